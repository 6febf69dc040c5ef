//! Weight loading: real files written by the `safetensors` crate, round trips through
//! `weights::save`, conversions, errors that name the tensor, and malformed files whose errors
//! name the offset.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use nim_engine::weights::{self, SafetensorsFile};
use nim_engine::{DType, Error, Storage, Tensor};
use proptest::prelude::*;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

/// A temporary directory that lives as long as the test holds it.
fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn bytes_of<T: Copy, const N: usize>(values: &[T], to_le: fn(T) -> [u8; N]) -> Vec<u8> {
    values.iter().flat_map(|&v| to_le(v)).collect()
}

/// Serializes `(name, dtype, shape, bytes)` with the `safetensors` crate itself.
fn crate_bytes(
    tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)],
    metadata: Option<HashMap<String, String>>,
) -> Vec<u8> {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            (
                *name,
                TensorView::new(*dtype, shape.clone(), bytes).expect("valid view"),
            )
        })
        .collect();
    safetensors::serialize(views, metadata).expect("serialize")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

/// A small valid file written by the crate: `w` (F32, [2, 3]) and `ids` (I32, [4]).
fn sample() -> Vec<u8> {
    crate_bytes(
        &[
            (
                "w",
                Dtype::F32,
                vec![2, 3],
                bytes_of(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0], f32::to_le_bytes),
            ),
            (
                "ids",
                Dtype::I32,
                vec![4],
                bytes_of(&[1i32, -2, 3, 4], i32::to_le_bytes),
            ),
        ],
        None,
    )
}

fn header_len(bytes: &[u8]) -> usize {
    let mut raw = [0u8; 8];
    raw.copy_from_slice(&bytes[..8]);
    usize::try_from(u64::from_le_bytes(raw)).expect("fits")
}

/// Opens `bytes` as a file and returns the `Error::File` message, checking that the
/// `safetensors` crate rejects the same bytes.
fn file_error(bytes: &[u8]) -> String {
    assert!(
        SafeTensors::deserialize(bytes).is_err(),
        "the safetensors crate accepts these bytes"
    );
    let dir = tempdir();
    let path = write(dir.path(), "bad.safetensors", bytes);
    match SafetensorsFile::open(&path) {
        Err(Error::File { path: p, message }) => {
            assert_eq!(p, path.display().to_string());
            message
        }
        other => panic!("expected Error::File, got {other:?}"),
    }
}

/// A file with a hand-written header (for malformed headers only) and `data` after it.
fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn reads_every_dtype_from_a_file_the_safetensors_crate_wrote() {
    let dir = tempdir();
    let f32s = [1.5f32, -2.25, 0.0, 1e-3];
    let f16s = [1.0f32, -0.5, 65504.0, 6.1e-5].map(f16::from_f32);
    let bf16s = [1.0f32, -3.0, 1e30, 0.15625].map(bf16::from_f32);
    let fp8 = [0x38u8, 0xB8, 0x7E, 0x01]; // 1, -1, 448, 2^-9
    let f64s = [0.1f64, -1e40, 2.5, 1.0 / 3.0];
    let metadata = HashMap::from([
        ("k8.scale".to_owned(), "0.5".to_owned()),
        ("sliding_window".to_owned(), "4096".to_owned()),
    ]);
    let bytes = crate_bytes(
        &[
            (
                "a32",
                Dtype::F32,
                vec![2, 2],
                bytes_of(&f32s, f32::to_le_bytes),
            ),
            (
                "a16",
                Dtype::F16,
                vec![4],
                bytes_of(&f16s, f16::to_le_bytes),
            ),
            (
                "b16",
                Dtype::BF16,
                vec![1, 4],
                bytes_of(&bf16s, bf16::to_le_bytes),
            ),
            ("k8", Dtype::F8_E4M3, vec![2, 2], fp8.to_vec()),
            (
                "d64",
                Dtype::F64,
                vec![4],
                bytes_of(&f64s, f64::to_le_bytes),
            ),
            (
                "tables",
                Dtype::I32,
                vec![2, 2],
                bytes_of(&[0i32, 1, 2, i32::MAX], i32::to_le_bytes),
            ),
            (
                "lens",
                Dtype::I64,
                vec![2],
                bytes_of(&[7i64, i64::from(i32::MIN)], i64::to_le_bytes),
            ),
        ],
        Some(metadata.clone()),
    );
    let path = write(dir.path(), "model.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");

    let mut names = file.names();
    names.sort_unstable();
    assert_eq!(names, ["a16", "a32", "b16", "d64", "k8", "lens", "tables"]);
    assert_eq!(file.len(), 7);
    assert!(file.contains("k8") && !file.contains("k9"));
    assert_eq!(file.metadata(), Some(&metadata));
    assert_eq!(file.path(), path);
    assert_eq!(file.dtype_of("b16").expect("dtype"), "BF16");
    assert_eq!(file.dtype_of("k8").expect("dtype"), "F8_E4M3");
    assert_eq!(file.shape_of("tables").expect("shape"), [2, 2]);

    let a32 = file.tensor("a32").expect("a32");
    assert_eq!(a32.shape(), [2, 2]);
    assert_eq!(a32.storage(), &Storage::F32(f32s.to_vec()));
    assert_eq!(
        file.tensor("a16").expect("a16").storage(),
        &Storage::F16(f16s.to_vec())
    );
    assert_eq!(
        file.tensor("b16").expect("b16").storage(),
        &Storage::Bf16(bf16s.to_vec())
    );
    assert_eq!(
        file.tensor("k8").expect("k8").storage(),
        &Storage::Fp8E4m3 {
            bytes: fp8.to_vec(),
            scale: 0.5
        }
    );
    assert_eq!(
        file.f32s("k8").expect("k8"),
        (vec![2, 2], vec![0.5, -0.5, 224.0, 0.5 / 512.0])
    );
    assert_eq!(
        file.f32s("d64").expect("d64").1,
        f64s.iter().map(|&x| x as f32).collect::<Vec<_>>()
    );
    assert_eq!(
        file.i32s("tables").expect("tables"),
        (vec![2, 2], vec![0, 1, 2, i32::MAX])
    );
    assert_eq!(
        file.i32s("lens").expect("lens"),
        (vec![2], vec![7, i32::MIN])
    );
}

#[test]
fn every_dtype_round_trips_through_save() {
    let dir = tempdir();
    let path = dir.path().join("round.safetensors");
    let values = [0.5f32, -1.75, 3.0, 1024.0, -0.0, 1e-4];
    let f32t = Tensor::from_f32(vec![2, 3], values.to_vec()).expect("f32");
    let f16t = Tensor::new(
        vec![3, 2],
        Storage::F16(values.iter().map(|&x| f16::from_f32(x)).collect()),
    )
    .expect("f16");
    let bf16t = Tensor::new(
        vec![6],
        Storage::Bf16(values.iter().map(|&x| bf16::from_f32(x)).collect()),
    )
    .expect("bf16");
    let fp8t = Tensor::new(
        vec![1, 2, 3],
        Storage::Fp8E4m3 {
            bytes: vec![0x00, 0x38, 0xB8, 0x7E, 0x01, 0x55],
            scale: 0.0125,
        },
    )
    .expect("fp8");
    let scalar = Tensor::from_f32(vec![], vec![42.0]).expect("scalar");
    let empty = Tensor::zeros(vec![0, 4], DType::Bf16);
    let metadata = HashMap::from([
        ("scale".to_owned(), "0.08838834764831845".to_owned()),
        ("soft_cap".to_owned(), "30".to_owned()),
    ]);
    let tables: &[i32] = &[0, 1, 2, 3, 4, -1];
    weights::save(
        &path,
        &[
            ("f32", &f32t),
            ("f16", &f16t),
            ("bf16", &bf16t),
            ("fp8", &fp8t),
            ("scalar", &scalar),
            ("empty", &empty),
        ],
        &[("block_tables", &[2, 3], tables), ("none", &[0], &[])],
        Some(metadata),
    )
    .expect("save");

    let file = SafetensorsFile::open(&path).expect("open");
    for (name, tensor) in [
        ("f32", &f32t),
        ("f16", &f16t),
        ("bf16", &bf16t),
        ("fp8", &fp8t),
        ("scalar", &scalar),
        ("empty", &empty),
    ] {
        assert_eq!(&file.tensor(name).expect(name), tensor, "{name}");
        assert_eq!(
            &file.tensor_as(name, tensor.dtype()).expect(name),
            tensor,
            "{name} as its own dtype"
        );
    }
    assert_eq!(
        file.i32s("block_tables").expect("tables"),
        (vec![2, 3], tables.to_vec())
    );
    assert_eq!(file.i32s("none").expect("none"), (vec![0], vec![]));
    let meta = file.metadata().expect("metadata");
    assert_eq!(meta["scale"], "0.08838834764831845");
    assert_eq!(meta["soft_cap"], "30");
    assert_eq!(meta["fp8.scale"], "0.0125");

    // The wire format, read back with the safetensors crate: dtype names and the FP8 scale key.
    let bytes = std::fs::read(&path).expect("read");
    let crate_view = SafeTensors::deserialize(&bytes).expect("the crate reads it");
    let (_, header) = SafeTensors::read_metadata(&bytes).expect("metadata");
    assert_eq!(
        header.metadata().as_ref().map(|m| m["fp8.scale"].clone()),
        Some("0.0125".to_owned())
    );
    for (name, dtype) in [
        ("f32", Dtype::F32),
        ("f16", Dtype::F16),
        ("bf16", Dtype::BF16),
        ("fp8", Dtype::F8_E4M3),
        ("block_tables", Dtype::I32),
    ] {
        assert_eq!(
            crate_view.tensor(name).expect(name).dtype(),
            dtype,
            "{name}"
        );
    }
    assert_eq!(
        crate_view.tensor("f32").expect("f32").data(),
        bytes_of(&values, f32::to_le_bytes)
    );
}

#[test]
fn save_without_metadata_writes_none_and_fp8_alone_writes_its_scale() {
    let dir = tempdir();
    let path = dir.path().join("plain.safetensors");
    let t = Tensor::from_f32(vec![1], vec![1.0]).expect("t");
    weights::save(&path, &[("t", &t)], &[], None).expect("save");
    assert_eq!(SafetensorsFile::open(&path).expect("open").metadata(), None);

    let fp8 = Tensor::new(
        vec![1],
        Storage::Fp8E4m3 {
            bytes: vec![0x38],
            scale: 3.0,
        },
    )
    .expect("fp8");
    weights::save(&path, &[("k", &fp8)], &[], None).expect("save over the old file");
    let file = SafetensorsFile::open(&path).expect("open");
    assert_eq!(file.names(), ["k"]);
    assert_eq!(
        file.metadata(),
        Some(&HashMap::from([("k.scale".to_owned(), "3".to_owned())]))
    );
    assert_eq!(file.f32s("k").expect("k").1, [3.0]);
}

#[test]
fn bf16_converts_to_f32_exactly() {
    let dir = tempdir();
    // Exact bf16 bit patterns: 1, -2.5, 3.140625, the largest finite, the smallest subnormal,
    // and a value near 1e-3.
    let bits: [u16; 6] = [0x3F80, 0xC020, 0x4049, 0x7F7F, 0x0001, 0x3A83];
    let values: Vec<bf16> = bits.iter().map(|&b| bf16::from_bits(b)).collect();
    let bytes = crate_bytes(
        &[(
            "x",
            Dtype::BF16,
            vec![6],
            bytes_of(&values, bf16::to_le_bytes),
        )],
        None,
    );
    let path = write(dir.path(), "bf16.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    let expected: Vec<f32> = bits
        .iter()
        .map(|&b| f32::from_bits(u32::from(b) << 16))
        .collect();
    assert_eq!(expected[..3], [1.0, -2.5, 3.140625]);
    assert_eq!(file.f32s("x").expect("f32s").1, expected);
    assert_eq!(
        file.tensor_as("x", DType::F32).expect("as f32").storage(),
        &Storage::F32(expected)
    );
}

#[test]
fn f32_converts_to_f16_rounding_to_nearest_even() {
    let dir = tempdir();
    let ulp = 2f32.powi(-10); // f16 spacing in [1, 2)
    let inputs = [
        1.0 + ulp / 2.0,       // tie: to 1.0 (even)
        1.0 + 3.0 * ulp / 2.0, // tie: to 1 + 2 ulp (even)
        1.0 + ulp * 0.75,      // nearest: 1 + ulp
        65519.0,               // below the tie: 65504
        65520.0,               // tie with the next power: to infinity
        2f32.powi(-25),        // half the smallest subnormal: tie to 0
        -0.1,
    ];
    let expected_bits: [u16; 7] = [0x3C00, 0x3C02, 0x3C01, 0x7BFF, 0x7C00, 0x0000, 0xAE66];
    let bytes = crate_bytes(
        &[(
            "x",
            Dtype::F32,
            vec![7],
            bytes_of(&inputs, f32::to_le_bytes),
        )],
        None,
    );
    let path = write(dir.path(), "f32.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    let Storage::F16(out) = file
        .tensor_as("x", DType::F16)
        .expect("as f16")
        .storage()
        .clone()
    else {
        panic!("not f16");
    };
    assert_eq!(
        out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        expected_bits
    );

    // To bf16, the same rule: 1 + 2^-8 is a tie between 1 and 1 + 2^-7.
    let bytes = crate_bytes(
        &[(
            "y",
            Dtype::F32,
            vec![2],
            bytes_of(
                &[1.0 + 2f32.powi(-8), 1.0 + 3.0 * 2f32.powi(-8)],
                f32::to_le_bytes,
            ),
        )],
        None,
    );
    let path = write(dir.path(), "bf.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    let Storage::Bf16(out) = file
        .tensor_as("y", DType::Bf16)
        .expect("as bf16")
        .storage()
        .clone()
    else {
        panic!("not bf16");
    };
    assert_eq!(
        out.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        [0x3F80, 0x3F82]
    );
}

#[test]
fn f64_converts_straight_to_the_target() {
    let dir = tempdir();
    // Rounding through f32 first would land on the tie and round to even (1.0); one rounding
    // from f64 goes up.
    let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
    let bytes = crate_bytes(
        &[("x", Dtype::F64, vec![1], bytes_of(&[x], f64::to_le_bytes))],
        None,
    );
    let path = write(dir.path(), "f64.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    assert_eq!(
        file.tensor_as("x", DType::F16).expect("f16").storage(),
        &Storage::F16(vec![f16::from_bits(0x3C01)])
    );
    assert_eq!(
        file.tensor_as("x", DType::F32).expect("f32").storage(),
        &Storage::F32(vec![x as f32])
    );
    // The same for bf16: 1 + 2^-8 is the tie, a little more goes up to 1 + 2^-7.
    let y = 1.0 + 2f64.powi(-8) + 2f64.powi(-40);
    let bytes = crate_bytes(
        &[("y", Dtype::F64, vec![1], bytes_of(&[y], f64::to_le_bytes))],
        None,
    );
    let path = write(dir.path(), "f64b.safetensors", &bytes);
    let file2 = SafetensorsFile::open(&path).expect("open");
    assert_eq!(
        file2.tensor_as("y", DType::Bf16).expect("bf16").storage(),
        &Storage::Bf16(vec![bf16::from_bits(0x3F81)])
    );
    assert!(matches!(
        file.tensor("x"),
        Err(Error::DType { name, found, .. }) if name == "x" && found == "F64"
    ));
}

#[test]
fn converts_to_fp8_with_a_per_tensor_scale() {
    let dir = tempdir();
    let values = [0.0f32, 1.0, -4.0, 2.0, 0.3];
    let bytes = crate_bytes(
        &[(
            "x",
            Dtype::F32,
            vec![5],
            bytes_of(&values, f32::to_le_bytes),
        )],
        None,
    );
    let path = write(dir.path(), "fp8.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    let t = file.tensor_as("x", DType::Fp8E4m3).expect("fp8");
    let Storage::Fp8E4m3 { bytes, scale } = t.storage() else {
        panic!("not fp8");
    };
    assert_eq!(*scale, 4.0 / 448.0);
    assert_eq!(bytes.len(), 5);
    assert_eq!(bytes[0], 0x00);
    assert_eq!(bytes[2], 0xFE, "-amax is -448 × scale");

    // Back through a file: the scale survives, the values are within FP8 precision.
    let out = dir.path().join("fp8-out.safetensors");
    weights::save(&out, &[("x", &t)], &[], None).expect("save");
    let back = SafetensorsFile::open(&out)
        .expect("open")
        .f32s("x")
        .expect("f32s")
        .1;
    for (got, want) in back.iter().zip(values) {
        assert!(
            (got - want).abs() <= want.abs() / 16.0 + 1e-6,
            "{got} vs {want}"
        );
    }
}

#[test]
fn i32_arrays_and_their_errors() {
    let dir = tempdir();
    let bytes = crate_bytes(
        &[
            (
                "big",
                Dtype::I64,
                vec![3],
                bytes_of(&[1i64, 1 << 40, 3], i64::to_le_bytes),
            ),
            (
                "f",
                Dtype::F32,
                vec![1],
                bytes_of(&[1.0f32], f32::to_le_bytes),
            ),
            ("u", Dtype::U8, vec![2], vec![1, 2]),
        ],
        None,
    );
    let path = write(dir.path(), "ints.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    match file.i32s("big") {
        Err(Error::Invalid { field, message }) => {
            assert_eq!(field, "big");
            assert!(message.contains("element 1"), "{message}");
        }
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
    match file.i32s("f") {
        Err(Error::DType {
            name,
            expected,
            found,
        }) => {
            assert_eq!((name.as_str(), found.as_str()), ("f", "F32"));
            assert!(expected.contains("I32"));
        }
        other => panic!("expected Error::DType, got {other:?}"),
    }
    for result in [
        file.f32s("u").map(|_| ()),
        file.tensor("u").map(|_| ()),
        file.tensor_as("u", DType::F32).map(|_| ()),
    ] {
        assert!(
            matches!(&result, Err(Error::DType { name, found, .. }) if name == "u" && found == "U8"),
            "{result:?}"
        );
    }
}

#[test]
fn missing_tensor_is_named() {
    let dir = tempdir();
    let path = write(dir.path(), "w.safetensors", &sample());
    let file = SafetensorsFile::open(&path).expect("open");
    let expected = Error::MissingTensor {
        path: path.display().to_string(),
        name: "k_cache".to_owned(),
    };
    assert_eq!(file.tensor("k_cache").unwrap_err(), expected);
    assert_eq!(file.tensor_as("k_cache", DType::F16).unwrap_err(), expected);
    assert_eq!(file.tensor_expect("k_cache", &[1]).unwrap_err(), expected);
    assert_eq!(file.i32s("k_cache").unwrap_err(), expected);
    assert_eq!(file.f32s("k_cache").unwrap_err(), expected);
    assert_eq!(file.dtype_of("k_cache").unwrap_err(), expected);
    assert_eq!(file.shape_of("k_cache").unwrap_err(), expected);
    assert!(expected.to_string().contains("\"k_cache\""));
}

#[test]
fn wrong_shape_and_dtype_are_named() {
    let dir = tempdir();
    let path = write(dir.path(), "w.safetensors", &sample());
    let file = SafetensorsFile::open(&path).expect("open");
    assert_eq!(file.tensor_expect("w", &[2, 3]).expect("w").shape(), [2, 3]);
    let err = file.tensor_expect("w", &[3, 2]).unwrap_err();
    assert_eq!(
        err,
        Error::Shape {
            name: "w".to_owned(),
            expected: "[3, 2]".to_owned(),
            found: vec![2, 3],
        }
    );
    assert!(err.to_string().starts_with("w: "), "{err}");
    let err = file.tensor("ids").unwrap_err();
    assert!(
        matches!(&err, Error::DType { name, found, .. } if name == "ids" && found == "I32"),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("ids: "), "{err}");
}

#[test]
fn a_bad_fp8_scale_names_the_key() {
    let dir = tempdir();
    let bytes = crate_bytes(
        &[("k", Dtype::F8_E4M3, vec![1], vec![0x38])],
        Some(HashMap::from([("k.scale".to_owned(), "-2".to_owned())])),
    );
    let path = write(dir.path(), "k.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    match file.tensor("k") {
        Err(Error::File { message, .. }) => assert!(message.contains("\"k.scale\""), "{message}"),
        other => panic!("expected Error::File, got {other:?}"),
    }
}

#[test]
fn an_unaligned_data_section_is_read_element_by_element() {
    // A valid file whose data section starts at an odd offset: the crate's output with one
    // more space of header padding (the crate reads it, and so must we).
    let valid = sample();
    let n = header_len(&valid);
    let mut bytes = ((n + 1) as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&valid[8..8 + n]);
    bytes.push(b' ');
    bytes.extend_from_slice(&valid[8 + n..]);
    assert!(SafeTensors::deserialize(&bytes).is_ok());
    let dir = tempdir();
    let path = write(dir.path(), "odd.safetensors", &bytes);
    let file = SafetensorsFile::open(&path).expect("open");
    assert_eq!(file.f32s("w").expect("w").1, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(file.i32s("ids").expect("ids").1, [1, -2, 3, 4]);
}

#[test]
fn save_rejects_bad_input() {
    let dir = tempdir();
    let path = dir.path().join("x.safetensors");
    let t = Tensor::from_f32(vec![1], vec![1.0]).expect("t");
    assert!(matches!(
        weights::save(&path, &[("a", &t), ("a", &t)], &[], None),
        Err(Error::Invalid { field, .. }) if field == "a"
    ));
    assert!(matches!(
        weights::save(&path, &[("a", &t)], &[("a", &[1], &[1])], None),
        Err(Error::Invalid { field, .. }) if field == "a"
    ));
    assert!(matches!(
        weights::save(&path, &[("__metadata__", &t)], &[], None),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        weights::save(&path, &[], &[("lens", &[3], &[1, 2])], None),
        Err(Error::Shape { name, .. }) if name == "lens"
    ));
    let bad_scale = Tensor::new(
        vec![1],
        Storage::Fp8E4m3 {
            bytes: vec![0],
            scale: f32::NAN,
        },
    )
    .expect("fp8");
    assert!(matches!(
        weights::save(&path, &[("k", &bad_scale)], &[], None),
        Err(Error::Invalid { field, .. }) if field == "k.scale"
    ));
    assert!(!path.exists(), "nothing is written on error");
    assert!(matches!(
        weights::save(
            dir.path().join("no/such/dir/x.safetensors"),
            &[("a", &t)],
            &[],
            None
        ),
        Err(Error::File { .. })
    ));
}

#[test]
fn opening_a_missing_file_names_it() {
    let dir = tempdir();
    let path = dir.path().join("absent.safetensors");
    match SafetensorsFile::open(&path) {
        Err(Error::File { path: p, message }) => {
            assert_eq!(p, path.display().to_string());
            assert!(message.contains("cannot open"), "{message}");
        }
        other => panic!("expected Error::File, got {other:?}"),
    }
}

#[test]
fn an_empty_or_tiny_file_names_the_header_length_at_offset_0() {
    let message = file_error(&[]);
    assert!(
        message.contains("0 bytes") && message.contains("offset 0"),
        "{message}"
    );
    let message = file_error(&[1, 2, 3, 4, 5]);
    assert!(
        message.contains("5 bytes") && message.contains("offset 0"),
        "{message}"
    );
}

#[test]
fn a_file_truncated_in_the_header_names_the_header_length() {
    let valid = sample();
    let n = header_len(&valid);
    let cut = 8 + n / 2;
    let message = file_error(&valid[..cut]);
    assert!(message.contains(&format!("header length {n}")), "{message}");
    assert!(message.contains(&format!("offset {}", 8 + n)), "{message}");
    assert!(message.contains(&format!("{cut} bytes")), "{message}");
}

#[test]
fn a_header_length_past_the_end_is_named() {
    let mut bytes = sample();
    let too_long = bytes.len() as u64 + 1000;
    bytes[..8].copy_from_slice(&too_long.to_le_bytes());
    let message = file_error(&bytes);
    assert!(
        message.contains(&format!("header length {too_long}")),
        "{message}"
    );
    assert!(message.contains("runs past the end"), "{message}");

    bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let message = file_error(&bytes);
    assert!(message.contains(&u64::MAX.to_string()), "{message}");
    assert!(message.contains("limit"), "{message}");
}

#[test]
fn a_file_truncated_in_the_data_names_the_offset_and_tensor() {
    let valid = sample();
    let data_start = 8 + header_len(&valid);
    // `w` (F32, 24 bytes) comes first: the crate orders tensors by dtype alignment.
    let cut = data_start + 5;
    let message = file_error(&valid[..cut]);
    assert!(
        message.contains(&format!("truncated at offset {cut}")),
        "{message}"
    );
    assert!(message.contains("tensor \"w\""), "{message}");
    assert!(
        message.contains(&format!("offsets {}..{}", data_start, data_start + 24)),
        "{message}"
    );
    // Cut inside the last tensor.
    let cut = valid.len() - 1;
    let message = file_error(&valid[..cut]);
    assert!(
        message.contains(&format!("truncated at offset {cut}")),
        "{message}"
    );
    assert!(message.contains("tensor \"ids\""), "{message}");
}

#[test]
fn bytes_after_the_last_tensor_are_named() {
    let mut bytes = sample();
    let end = bytes.len();
    bytes.extend_from_slice(&[0, 0, 0]);
    let message = file_error(&bytes);
    assert!(
        message.contains(&format!(
            "3 unexpected bytes after the last tensor, from offset {end}"
        )),
        "{message}"
    );
}

#[test]
fn garbage_json_names_the_offset() {
    let valid = sample();
    let n = header_len(&valid);
    let mut bytes = valid.clone();
    // Keep the crate's header up to the first tensor entry's key, then garbage.
    let header = std::str::from_utf8(&valid[8..8 + n]).expect("utf-8");
    let at = header.find('"').expect("a key") + 1;
    bytes[8 + at..8 + n].fill(b'}');
    bytes[8 + at - 1] = b'x';
    let message = file_error(&bytes);
    assert!(message.contains("not a JSON object at offset"), "{message}");
    assert!(
        message.contains(&format!("offset {}", 8 + at - 1)),
        "{message}"
    );

    let message = file_error(&with_header("[1, 2, 3]", &[]));
    assert!(message.contains("not a JSON object at offset"), "{message}");
    // EOF: the last byte of the header, at offset 8 + 5.
    let message = file_error(&with_header("{\"a\": ", &[]));
    assert!(message.contains("at offset 13"), "{message}");
}

#[test]
fn a_header_that_is_not_utf8_names_the_offset() {
    let mut bytes = with_header("{\"a\":   }", &[]);
    bytes[8 + 5] = 0xFF;
    let message = file_error(&bytes);
    assert!(
        message.contains("not UTF-8") && message.contains("offset 13"),
        "{message}"
    );
}

#[test]
fn inconsistent_tensor_entries_are_named_with_their_offsets() {
    // Sizes that do not match dtype × shape.
    let header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}"#;
    let start = 8 + header.len();
    let message = file_error(&with_header(header, &[0; 12]));
    assert!(message.contains("tensor \"w\""), "{message}");
    assert!(
        message.contains(&format!("file offsets {start}..{}", start + 12)),
        "{message}"
    );
    assert!(
        message.contains("holds 12 bytes") && message.contains("need 8"),
        "{message}"
    );

    // Overlapping tensors.
    let header = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
    let message = file_error(&with_header(header, &[0; 12]));
    assert!(
        message.contains("tensor \"b\"") && message.contains("overlap"),
        "{message}"
    );
    assert!(message.contains("\"a\" ends at data offset 8"), "{message}");

    // A gap before the first tensor.
    let header = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    let message = file_error(&with_header(header, &[0; 8]));
    assert!(
        message.contains("tensor \"a\"") && message.contains("gap"),
        "{message}"
    );

    // End before begin.
    let header = r#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#;
    let message = file_error(&with_header(header, &[0; 4]));
    assert!(message.contains("tensor \"a\""), "{message}");

    // Unknown dtype and missing fields name the tensor.
    let header = r#"{"q":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}"#;
    let message = file_error(&with_header(header, &[0; 4]));
    assert!(
        message.contains("tensor \"q\"") && message.contains("F99"),
        "{message}"
    );
    let header = r#"{"q":{"shape":[1],"data_offsets":[0,4]}}"#;
    let message = file_error(&with_header(header, &[0; 4]));
    assert!(
        message.contains("tensor \"q\"") && message.contains("dtype"),
        "{message}"
    );

    // A shape whose byte size overflows.
    let header = format!(
        r#"{{"q":{{"dtype":"F32","shape":[{},{}],"data_offsets":[0,4]}}}}"#,
        usize::MAX,
        2
    );
    let message = file_error(&with_header(&header, &[0; 4]));
    assert!(
        message.contains("tensor \"q\"") && message.contains("overflow"),
        "{message}"
    );

    // Metadata values must be strings.
    let message = file_error(&with_header(r#"{"__metadata__":{"a":1}}"#, &[]));
    assert!(message.contains("__metadata__"), "{message}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic: they open or fail with `Error::File`, exactly when the
    /// `safetensors` crate rejects them.
    #[test]
    fn opening_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..96)) {
        check_bytes(&bytes);
    }

    /// Valid files with bytes changed, or cut short, behave the same way; when they still
    /// open, every tensor reads back or fails with a structured error.
    #[test]
    fn damaged_files_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = sample();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            let keep = cut.index(bytes.len());
            bytes.truncate(keep);
        }
        check_bytes(&bytes);
    }
}

fn check_bytes(bytes: &[u8]) {
    let dir = tempdir();
    let path = write(dir.path(), "any.safetensors", bytes);
    let crate_accepts = SafeTensors::deserialize(bytes).is_ok();
    match SafetensorsFile::open(&path) {
        Ok(file) => {
            assert!(crate_accepts, "we accept what the crate rejects");
            for name in file.names() {
                for result in [
                    file.tensor(name).map(|_| ()),
                    file.tensor_as(name, DType::F16).map(|_| ()),
                    file.f32s(name).map(|_| ()),
                    file.i32s(name).map(|_| ()),
                ] {
                    if let Err(e) = result {
                        assert!(
                            matches!(
                                e,
                                Error::DType { .. } | Error::Invalid { .. } | Error::File { .. }
                            ),
                            "{e:?}"
                        );
                    }
                }
            }
        }
        Err(Error::File { message, .. }) => {
            assert!(
                !crate_accepts,
                "we reject what the crate accepts: {message}"
            );
        }
        Err(other) => panic!("expected Error::File, got {other:?}"),
    }
}
