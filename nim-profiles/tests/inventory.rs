//! The GPU inventory: the description syntax, `nvidia-smi` CSV and `topo -m`, GPU feature
//! discovery labels and NVML detection.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nim_profiles::inventory::{SPEC_SOURCE, Topology};
use nim_profiles::{Error, GpuGroup, Inventory, MigSlice, nvml};
use nim_sizing::Bytes;
use nim_sizing::gpu::builtin;
use nim_sizing::units::{GIB, MIB};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/inventory")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn labels(name: &str) -> BTreeMap<String, String> {
    serde_json::from_str(&fixture(name)).expect("labels fixture is a JSON object of strings")
}

fn parse(spec: &str) -> Inventory {
    Inventory::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// The message of an `Error::Parse` from the description syntax.
fn spec_error(spec: &str) -> String {
    match Inventory::parse(spec) {
        Err(Error::Parse {
            source_name,
            line,
            message,
        }) => {
            assert_eq!((source_name.as_str(), line), (SPEC_SOURCE, 1), "{spec}");
            message
        }
        other => panic!("{spec}: expected a parse error, got {other:?}"),
    }
}

/// (line, message) of an `Error::Parse` with the given source name.
fn parse_error(result: Result<Inventory, Error>, source: &str) -> (usize, String) {
    match result {
        Err(Error::Parse {
            source_name,
            line,
            message,
        }) => {
            assert_eq!(source_name, source);
            (line, message)
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

fn invalid(result: Result<Inventory, Error>) -> (String, String) {
    match result {
        Err(Error::Invalid { field, message }) => (field, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

fn ids(inventory: &Inventory) -> Vec<(&str, u32)> {
    inventory
        .groups
        .iter()
        .map(|g| (g.gpu.id.as_str(), g.count))
        .collect()
}

// -------------------------------------------------------------------------------------------
// The description syntax
// -------------------------------------------------------------------------------------------

#[test]
fn the_examples_of_the_issue_parse() {
    let inv = parse("2xH100-SXM-80GB");
    assert_eq!(ids(&inv), [("h100-sxm-80gb", 2)]);
    let group = &inv.groups[0];
    assert_eq!(group.nvlink, None);
    assert!(group.has_nvlink(), "an H100 SXM has NVLink by default");
    assert!(!group.vgpu && group.mig.is_none() && group.free_memory.is_none());
    assert!(group.indices.is_empty());
    assert_eq!(group.memory_per_gpu(), group.gpu.visible_memory);

    let inv = parse("4xH100-SXM-80GB:nvlink");
    assert_eq!(ids(&inv), [("h100-sxm-80gb", 4)]);
    assert_eq!(inv.groups[0].nvlink, Some(true));

    let inv = parse("2xL40S:vgpu");
    assert_eq!(ids(&inv), [("l40s-48gb", 2)]);
    assert!(inv.groups[0].vgpu);
    assert!(!inv.groups[0].has_nvlink());

    let inv = parse("1xA100-80GB:mig=3g.40gb");
    assert_eq!(ids(&inv), [("a100-sxm-80gb", 1)]);
    let slice = inv.groups[0].mig.as_ref().expect("MIG");
    assert_eq!(slice.name, "3g.40gb");
    assert_eq!(slice.compute_slices, 3);
    // Half the memory slices of the A100's 79.14 GiB visible memory.
    assert_eq!(slice.memory, Bytes::from_gib(79.14).scale(0.5));
    assert_eq!(inv.groups[0].memory_per_gpu(), slice.memory);
    assert!(!inv.groups[0].has_nvlink(), "MIG turns peer-to-peer off");

    let inv = parse("2xH100-SXM-80GB:nvlink+2xL40S:vgpu");
    assert_eq!(ids(&inv), [("h100-sxm-80gb", 2), ("l40s-48gb", 2)]);
    assert_eq!(inv.total_gpus(), 4);
    assert_eq!(inv.groups[0].nvlink, Some(true));
    assert!(inv.groups[1].vgpu);
}

#[test]
fn counts_names_and_spacing() {
    assert_eq!(ids(&parse("H100")), [("h100-sxm-80gb", 1)]);
    assert_eq!(ids(&parse("8X h100")), [("h100-sxm-80gb", 8)]);
    assert_eq!(
        ids(&parse(" 2 x H100 + L4 ")),
        [("h100-sxm-80gb", 2), ("l4-24gb", 1)]
    );
    assert_eq!(ids(&parse("2×A10G")), [("a10g-24gb", 2)]);
    // Every name the catalog answers to, PCI ids included.
    assert_eq!(ids(&parse("NVIDIA H100 80GB HBM3")), [("h100-sxm-80gb", 1)]);
    assert_eq!(
        ids(&parse("4xNVIDIA-A100-SXM4-80GB")),
        [("a100-sxm-80gb", 4)]
    );
    assert_eq!(ids(&parse("2x2330:10de")), [("h100-sxm-80gb", 2)]);
    assert_eq!(ids(&parse("2x10de:2330:nvlink")), [("h100-sxm-80gb", 2)]);
    assert_eq!(ids(&parse("0x2330")), [("h100-sxm-80gb", 1)]);
    assert_eq!(ids(&parse("3x0x233010DE")), [("h100-sxm-80gb", 3)]);
    assert_eq!(ids(&parse("Tesla-T4")), [("t4-16gb", 1)]);
    assert_eq!(parse("65536xL4").total_gpus(), 65_536);
}

#[test]
fn attributes() {
    assert_eq!(parse("2xH100:pcie").groups[0].nvlink, Some(false));
    assert!(!parse("2xH100:pcie").groups[0].has_nvlink());
    assert_eq!(parse("2xH100:no-nvlink").groups[0].nvlink, Some(false));
    assert_eq!(parse("2xH100:NVLINK").groups[0].nvlink, Some(true));
    assert!(!parse("2xL40S:passthrough").groups[0].vgpu);
    // Repeating an attribute with the same value is harmless.
    assert_eq!(parse("2xH100:nvlink:nvlink").groups[0].nvlink, Some(true));

    let free = parse("2xH100:free=70GiB").groups[0].free_memory;
    assert_eq!(free, Some(Bytes::from_gib(70.0)));
    assert_eq!(
        parse("2xH100:free=75GB").groups[0].free_memory,
        Some(Bytes::new(75_000_000_000))
    );
    assert_eq!(
        parse("H100:free=512MiB").groups[0].free_memory,
        Some(Bytes::new(512 * MIB))
    );
    let group = &parse("1xH100:free=10.5GiB:mig=3g.40gb").groups[0];
    assert_eq!(group.memory_per_gpu(), Bytes::from_gib(10.5));

    // MIG profiles of several GPUs, and the `+me` variant that holds a '+'.
    for (spec, name, slices) in [
        ("1xA100-80GB:mig=1g.10gb", "1g.10gb", 1),
        ("7xH100:mig=1g.10gb", "1g.10gb", 1),
        ("1xH100:mig=7g.80gb", "7g.80gb", 7),
        ("1xH100:mig=2g.20gb", "2g.20gb", 2),
        ("1xH100:mig=4g.40gb", "4g.40gb", 4),
        ("1xA100-40GB:mig=1g.5gb", "1g.5gb", 1),
        ("1xH100-NVL:mig=1g.12gb", "1g.12gb", 1),
        ("1xH200:mig=3g.71gb", "3g.71gb", 3),
        ("1xB200:mig=7g.180gb", "7g.180gb", 7),
        ("1xGH200-144GB:mig=7g.141gb", "7g.141gb", 7),
        ("1xRTX-PRO-6000:mig=2g.48gb", "2g.48gb", 2),
        ("1xA100:mig=MIG 3G.40GB", "3g.40gb", 3),
    ] {
        let slice = parse(spec).groups[0].mig.clone().expect(spec);
        assert_eq!(
            (slice.name.as_str(), slice.compute_slices),
            (name, slices),
            "{spec}"
        );
    }
    let inv = parse("7xA100:mig=1g.10gb+me+2xL4");
    assert_eq!(ids(&inv), [("a100-sxm-80gb", 7), ("l4-24gb", 2)]);
    assert_eq!(inv.groups[0].mig.as_ref().expect("MIG").name, "1g.10gb+me");
    assert_eq!(inv.to_string(), "7xa100-sxm-80gb:mig=1g.10gb+me+2xl4-24gb");
    assert_eq!(parse(&inv.to_string()), inv);
    // 1g.20gb takes two memory slices: twice the memory of 1g.10gb.
    let small = parse("H100:mig=1g.10gb").groups[0].memory_per_gpu();
    let large = parse("H100:mig=1g.20gb").groups[0].memory_per_gpu();
    assert_eq!(large.get(), small.get() * 2);
}

#[test]
fn display_uses_catalog_ids_and_round_trips() {
    for (spec, shown) in [
        ("2xH100-SXM-80GB", "2xh100-sxm-80gb"),
        ("4xH100-SXM-80GB:nvlink", "4xh100-sxm-80gb:nvlink"),
        ("2xL40S:vgpu", "2xl40s-48gb:vgpu"),
        ("1xA100-80GB:mig=3g.40gb", "1xa100-sxm-80gb:mig=3g.40gb"),
        (
            "2xH100-SXM-80GB:nvlink+2xL40S:vgpu",
            "2xh100-sxm-80gb:nvlink+2xl40s-48gb:vgpu",
        ),
        ("H100:pcie:passthrough", "1xh100-sxm-80gb:pcie"),
        (
            "2xH100:free=70GiB:nvlink",
            "2xh100-sxm-80gb:nvlink:free=70GiB",
        ),
        ("H100:free=75GB", "1xh100-sxm-80gb:free=75000000000B"),
        ("H100:free=1.5GiB", "1xh100-sxm-80gb:free=1.5GiB"),
        ("L4:vgpu:free=20GiB", "1xl4-24gb:vgpu:free=20GiB"),
    ] {
        let inv = parse(spec);
        assert_eq!(inv.to_string(), shown, "{spec}");
        assert_eq!(parse(shown), inv, "{spec}");
        assert_eq!(shown.parse::<Inventory>().expect(shown), inv);
    }
    assert_eq!(Inventory::default().to_string(), "");
}

#[test]
fn bad_counts() {
    for spec in ["0xH100", "0x H100", "00xH100"] {
        let m = spec_error(spec);
        assert!(
            m.contains("count \"0") && m.contains("at least 1"),
            "{spec}: {m}"
        );
    }
    let m = spec_error("99999999999xH100");
    assert!(
        m.contains("count \"99999999999\" is more than 65536"),
        "{m}"
    );
    assert!(spec_error("65537xH100").contains("more than 65536"));
    let m = spec_error("2x");
    assert!(m.starts_with("\"2x\": no GPU named"), "{m}");
}

#[test]
fn unknown_gpus_suggest_the_nearest() {
    let m = spec_error("3xH999");
    assert!(
        m.starts_with("\"3xH999\": unknown GPU \"H999\"; nearest known: h"),
        "{m}"
    );
    let m = spec_error("2xH100+1xL40X");
    assert!(m.starts_with("\"1xL40X\": unknown GPU \"L40X\""), "{m}");
    assert!(m.contains("l40s-48gb") || m.contains("l40-48gb"), "{m}");
}

#[test]
fn unknown_and_empty_attributes() {
    let m = spec_error("2xH100:nvlnk");
    assert_eq!(
        m,
        "\"2xH100:nvlnk\": unknown attribute \"nvlnk\" (did you mean \"nvlink\"?); expected \
         nvlink, pcie, vgpu, passthrough, mig=..., free=..."
    );
    let m = spec_error("2xH100:fast");
    assert!(
        m.contains("unknown attribute \"fast\"; expected nvlink, pcie"),
        "{m}"
    );
    // A flag with a value, a key without one.
    assert!(
        spec_error("2xH100:nvlink=yes")
            .ends_with("attribute \"nvlink\" takes no value (\"nvlink=yes\")")
    );
    assert!(spec_error("2xH100:mig").ends_with("attribute \"mig\" needs a profile: mig=3g.40gb"));
    assert!(spec_error("2xH100:free").contains("needs an amount"));
    assert!(spec_error("2xH100:").contains("empty attribute"));
    assert!(spec_error("").contains("empty GPU description"));
    assert!(spec_error("   ").contains("empty GPU description"));
    assert!(spec_error("H100++L4").starts_with("\"\": empty group"));
    assert!(spec_error("H100+").starts_with("\"\": empty group"));
}

#[test]
fn contradictory_attributes() {
    assert_eq!(
        spec_error("4xH100:nvlink:pcie"),
        "\"4xH100:nvlink:pcie\": \"pcie\" contradicts \"nvlink\""
    );
    assert!(spec_error("4xH100:pcie:nvlink").contains("\"nvlink\" contradicts \"pcie\""));
    assert!(spec_error("4xH100:no-nvlink:nvlink").contains("contradicts"));
    assert!(spec_error("2xL40S:vgpu:passthrough").contains("\"passthrough\" contradicts \"vgpu\""));
    assert!(spec_error("2xL40S:passthrough:vgpu").contains("\"vgpu\" contradicts \"passthrough\""));
    assert!(spec_error("2xA100:nvlink:mig=3g.40gb").contains("MIG turns GPU peer-to-peer"));
    assert!(spec_error("2xL40S:nvlink").contains("l40s-48gb has no NVLink"));
    assert!(spec_error("H100:mig=3g.40gb:mig=1g.10gb").contains("mig= given twice"));
    assert!(spec_error("H100:free=1GiB:free=2GiB").contains("free= given twice"));
}

#[test]
fn mig_slices_that_do_not_exist() {
    let m = spec_error("1xL40S:mig=3g.40gb");
    assert!(
        m.starts_with("\"1xL40S:mig=3g.40gb\": l40s-48gb does not support MIG (MIG GPUs: A100"),
        "{m}"
    );
    for spec in [
        "T4:mig=1g.5gb",
        "A10G:mig=1g.6gb",
        "L4:mig=1g.6gb",
        "RTX 6000 Ada:mig=1g.12gb",
    ] {
        assert!(spec_error(spec).contains("does not support MIG"), "{spec}");
    }
    let m = spec_error("1xA100-40GB:mig=3g.40gb");
    assert!(
        m.ends_with(
            "MIG profile \"3g.40gb\" does not exist on a100-sxm-40gb; its profiles: 1g.5gb, \
             1g.10gb, 2g.10gb, 3g.20gb, 4g.20gb, 7g.40gb"
        ),
        "{m}"
    );
    let m = spec_error("1xA100:mig=7g.160gb");
    assert!(
        m.contains("(160 GB) is larger than the GPU (a100-sxm-80gb has 80.00 GiB)"),
        "{m}"
    );
    assert!(spec_error("H100:mig=5g.50gb").contains("does not exist on h100-sxm-80gb"));
    assert!(spec_error("H100:mig=3g.20gb").contains("does not exist"));
    assert!(spec_error("RTX PRO 6000:mig=3g.72gb").contains("does not exist"));
    for bad in ["3g", "3g.40", "g.40gb", "3g.gb", "0g.0gb", "3g.40gb+xx"] {
        let m = spec_error(&format!("H100:mig={bad}"));
        assert!(
            m.contains("is not a MIG profile")
                || m.contains("does not exist")
                || m.contains("unknown GPU"),
            "{bad}: {m}"
        );
    }
    assert!(spec_error("H100:mig=3g").contains("expected <n>g.<m>gb such as 3g.40gb"));
}

#[test]
fn bad_free_memory() {
    let m = spec_error("L4:free=100GiB");
    assert!(
        m.contains("free=100GiB: more than the memory of l4-24gb (24.00 GiB)"),
        "{m}"
    );
    let m = spec_error("H100:mig=1g.10gb:free=20GiB");
    assert!(m.contains("more than the memory of a 1g.10gb slice"), "{m}");
    for bad in ["abc", "10", "10 parsecs", "-1GiB", "GiB", "1e3GiB", ""] {
        let m = spec_error(&format!("H100:free={bad}"));
        assert!(
            m.contains("expected an amount of memory per GPU"),
            "{bad}: {m}"
        );
    }
}

#[test]
fn mig_slice_api() {
    let h100 = builtin().lookup("H100").expect("H100");
    assert!(MigSlice::supports(h100));
    assert!(!MigSlice::supports(builtin().lookup("L40S").expect("L40S")));
    let slice = MigSlice::new("3g.40gb", h100).expect("3g.40gb");
    assert_eq!(slice.to_string(), "3g.40gb");
    assert_eq!(slice.memory, Bytes::from_gib(79.11).scale(0.5));
    match MigSlice::new("9g.90gb", h100) {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "mig"),
        other => panic!("{other:?}"),
    }
    // Every listed profile parses back to itself on every MIG GPU.
    for gpu in builtin() {
        for profile in MigSlice::profiles(gpu) {
            let again = MigSlice::new(&profile.name, gpu).expect(&profile.name);
            assert_eq!(again, profile, "{}", gpu.id);
            assert!(profile.memory <= gpu.visible_memory, "{}", gpu.id);
        }
    }
}

#[test]
fn groups_display_alone() {
    let group = GpuGroup::new(builtin().lookup("L4").expect("L4").clone(), 2);
    assert_eq!(group.to_string(), "2xl4-24gb");
}

// -------------------------------------------------------------------------------------------
// nvidia-smi CSV
// -------------------------------------------------------------------------------------------

#[test]
fn smi_h100x8_groups_by_free_memory() {
    let inv = Inventory::from_nvidia_smi_csv("smi-h100x8.csv", &fixture("smi-h100x8.csv"))
        .expect("parses");
    assert_eq!(inv.total_gpus(), 8);
    assert_eq!(
        ids(&inv),
        [
            ("h100-sxm-80gb", 6),
            ("h100-sxm-80gb", 1),
            ("h100-sxm-80gb", 1)
        ]
    );
    let idle = &inv.groups[0];
    assert_eq!(idle.indices, [0, 1, 2, 3, 4, 5]);
    // The smallest free memory of the group: GPU 5 uses 1 MiB.
    let visible = idle.gpu.visible_memory;
    assert_eq!(idle.free_memory, Some(visible - Bytes::new(MIB)));
    assert_eq!(inv.groups[1].indices, [6]);
    assert_eq!(
        inv.groups[1].free_memory,
        Some(visible - Bytes::new(40_123 * MIB))
    );
    assert_eq!(inv.groups[2].indices, [7]);
    assert_eq!(
        inv.groups[2].memory_per_gpu(),
        visible - Bytes::new(78_000 * MIB)
    );
    assert!(inv.groups.iter().all(|g| g.nvlink.is_none() && !g.vgpu));
}

#[test]
fn smi_a100_without_header_or_units() {
    let name = "smi-a100-sxm4-80gb-noheader-nounits.csv";
    let inv = Inventory::from_nvidia_smi_csv(name, &fixture(name)).expect("parses");
    assert_eq!(ids(&inv), [("a100-sxm-80gb", 4)]);
    let group = &inv.groups[0];
    assert_eq!(group.indices, [0, 1, 2, 3]);
    assert_eq!(
        group.free_memory,
        Some(group.gpu.visible_memory - Bytes::new(4 * MIB))
    );
}

#[test]
fn smi_l4_and_mixed_boxes() {
    let inv = Inventory::from_nvidia_smi_csv("smi-l4.csv", &fixture("smi-l4.csv")).expect("L4");
    assert_eq!(ids(&inv), [("l4-24gb", 2)]);
    // An idle L4: nvidia-smi's 23034 MiB less the driver reserve is the catalog's figure.
    assert_eq!(
        inv.groups[0].free_memory,
        Some(inv.groups[0].gpu.visible_memory)
    );

    // Columns in another order, with an index and an ignored utilization column.
    let inv =
        Inventory::from_nvidia_smi_csv("smi-mixed.csv", &fixture("smi-mixed.csv")).expect("mixed");
    assert_eq!(
        ids(&inv),
        [("l40s-48gb", 2), ("l4-24gb", 1), ("rtx-6000-ada-48gb", 1)]
    );
    assert_eq!(inv.groups[0].indices, [0, 1]);
    assert_eq!(inv.groups[1].indices, [2]);
    assert_eq!(
        inv.groups[1].free_memory,
        Some(inv.groups[1].gpu.visible_memory - Bytes::new(512 * MIB))
    );
    // memory.used [N/A]: free memory unknown.
    assert_eq!(inv.groups[2].indices, [3]);
    assert_eq!(inv.groups[2].free_memory, None);
}

#[test]
fn smi_vgpu_found_by_pci_id() {
    let inv =
        Inventory::from_nvidia_smi_csv("smi-vgpu.csv", &fixture("smi-vgpu.csv")).expect("vGPU");
    assert_eq!(ids(&inv), [("a100-pcie-80gb", 2)]);
    let group = &inv.groups[0];
    assert!(group.vgpu);
    // The vGPU profile's 40 GiB framebuffer, not the card's 80.
    assert_eq!(group.free_memory, Some(Bytes::new(40_960 * MIB)));
}

#[test]
fn smi_unknown_gpu_names_line_and_both_values() {
    let (line, m) = parse_error(
        Inventory::from_nvidia_smi_csv("smi-unknown.csv", &fixture("smi-unknown.csv")),
        "smi-unknown.csv",
    );
    assert_eq!(line, 3);
    assert!(
        m.starts_with("unknown GPU \"NVIDIA Quantum GPU 9000\"; nearest known: "),
        "{m}"
    );
    assert!(
        m.ends_with("PCI id 0x999910DE (9999:10de) is not in the catalog either"),
        "{m}"
    );
    // The name unknown but the PCI id known: found by PCI id.
    let csv = "name, pci.device_id, memory.total [MiB], memory.used [MiB]\n\
               Graphics Device, 0x233010DE, 81559 MiB, 0 MiB\n";
    let inv = Inventory::from_nvidia_smi_csv("x.csv", csv).expect("by PCI id");
    assert_eq!(ids(&inv), [("h100-sxm-80gb", 1)]);
    assert!(!inv.groups[0].vgpu);
    // A PCI id of another vendor.
    let (_, m) = parse_error(
        Inventory::from_nvidia_smi_csv("x.csv", "Mystery, 0x73BF1002, 16368, 0\n"),
        "x.csv",
    );
    assert!(
        m.contains("PCI id \"0x73BF1002\" is not an NVIDIA device id"),
        "{m}"
    );
}

#[test]
fn smi_malformed_input() {
    let header = "name, pci.device_id, memory.total [MiB], memory.used [MiB]\n";
    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "no GPU rows"),
        (header, 0, "no GPU rows"),
        ("No devices were found\n", 1, "found no GPU"),
        (
            &format!("{header}NVIDIA L4, 0x27B810DE, 23034 MiB\n"),
            2,
            "expected 4 fields (name, pci.device_id, memory.total, memory.used), found 3",
        ),
        (
            &format!("{header}NVIDIA L4, 0x27B810DE, lots, 0 MiB\n"),
            2,
            "memory.total: \"lots\" is not an amount of memory",
        ),
        (
            "index, name\n0, NVIDIA L4\n0, NVIDIA L4\n",
            3,
            "GPU index 0 appears twice",
        ),
        (
            "index, name\nzero, NVIDIA L4\n",
            2,
            "index: \"zero\" is not a GPU index",
        ),
        (
            "index, memory.total [MiB]\n0, 100 MiB\n",
            1,
            "neither name nor pci.device_id",
        ),
        ("name, name\nL4, L4\n", 1, "column name appears twice"),
        ("L4, 0x27B8, 23034\n", 1, "expected 4 fields"),
    ];
    for (csv, line, message) in cases {
        let (l, m) = parse_error(Inventory::from_nvidia_smi_csv("bad.csv", csv), "bad.csv");
        assert_eq!(l, *line, "{csv:?}: {m}");
        assert!(m.contains(message), "{csv:?}: {m}");
    }
    // Blank lines, a byte-order mark and quoted fields are fine.
    let csv = "\u{feff}name, pci.device_id\n\n\"NVIDIA L4\", \"0x27B810DE\"\n\n";
    let inv = Inventory::from_nvidia_smi_csv("ok.csv", csv).expect("parses");
    assert_eq!(ids(&inv), [("l4-24gb", 1)]);
    assert_eq!(inv.groups[0].free_memory, None);
}

// -------------------------------------------------------------------------------------------
// nvidia-smi topo -m
// -------------------------------------------------------------------------------------------

#[test]
fn topo_h100x8_nvlink_all_to_all() {
    let topo_text = fixture("topo-h100x8-nv18.txt");
    let topo = Topology::parse("topo.txt", &topo_text).expect("parses");
    assert_eq!(topo.gpu_count(), 8);
    assert_eq!(topo.link(0, 7), Some("NV18"));
    assert_eq!(topo.link(3, 3), Some("X"));
    assert_eq!(topo.nvlinks(2, 5), Some(18));
    assert_eq!(topo.nvlinks(2, 2), None);
    assert_eq!(topo.link(0, 8), None);

    // On the CSV inventory of the same box (three groups by free memory).
    let inv = Inventory::from_nvidia_smi_csv("smi.csv", &fixture("smi-h100x8.csv"))
        .expect("csv")
        .with_topology("topo.txt", &topo_text)
        .expect("topology");
    assert_eq!(inv.groups.len(), 3);
    assert!(inv.groups.iter().all(|g| g.nvlink == Some(true)));
    // On a description without indices.
    let inv = parse("8xH100:pcie")
        .with_topology("topo.txt", &topo_text)
        .expect("topology");
    assert_eq!(inv.groups[0].nvlink, Some(true));
}

#[test]
fn topo_l40s_pcie_box() {
    let topo_text = fixture("topo-l40sx4-pcie.txt");
    let topo = Topology::parse("topo.txt", &topo_text).expect("escape codes are ignored");
    assert_eq!(topo.gpu_count(), 4);
    assert_eq!(topo.link(0, 1), Some("PIX"));
    assert_eq!(topo.link(0, 3), Some("SYS"));
    let inv = parse("4xL40S").apply_topology(&topo).expect("topology");
    assert_eq!(inv.groups[0].nvlink, Some(false));
    let inv = parse("2xL40S+2xL40S")
        .apply_topology(&topo)
        .expect("topology");
    assert!(inv.groups.iter().all(|g| g.nvlink == Some(false)));
}

#[test]
fn topo_two_nvlink_bridged_pairs() {
    let topo_text = fixture("topo-a100-pcie-2plus2-nvlink.txt");
    // One group of four: not every pair is joined by NVLink.
    let inv = parse("4xA100-PCIe")
        .with_topology("topo.txt", &topo_text)
        .expect("topology");
    assert_eq!(inv.groups[0].nvlink, Some(false));
    assert!(!inv.groups[0].has_nvlink());
    // Two groups of two, each a bridged pair.
    let inv = parse("2xA100-PCIe+2xA100-PCIe")
        .with_topology("topo.txt", &topo_text)
        .expect("topology");
    assert_eq!(
        inv.groups.iter().map(|g| g.nvlink).collect::<Vec<_>>(),
        [Some(true), Some(true)]
    );
    // Groups with indices: GPUs 0 and 2 are not bridged; GPU 1 alone has a bridge.
    let mut inv = parse("2xA100-PCIe+1xA100-PCIe+1xA100-PCIe");
    inv.groups[0].indices = vec![0, 2];
    inv.groups[1].indices = vec![1];
    let inv = inv.with_topology("topo.txt", &topo_text).expect("topology");
    assert_eq!(
        inv.groups.iter().map(|g| g.nvlink).collect::<Vec<_>>(),
        [Some(false), Some(true), Some(true)]
    );
}

#[test]
fn topo_errors() {
    let h100 = fixture("topo-h100x8-nv18.txt");
    let (line, m) = parse_error(parse("4xH100").with_topology("topo.txt", &h100), "topo.txt");
    assert_eq!(line, 1);
    assert_eq!(
        m,
        "the matrix has 8 GPUs, the inventory 4 (4xh100-sxm-80gb)"
    );
    let (_, m) = parse_error(
        parse("8xA100:mig=1g.10gb").with_topology("topo.txt", &h100),
        "topo.txt",
    );
    assert!(m.contains("is MIG slices"), "{m}");
    let mut inv = parse("8xH100");
    inv.groups[0].indices = (1..=8).collect();
    let (_, m) = parse_error(inv.with_topology("topo.txt", &h100), "topo.txt");
    assert!(
        m.contains("GPU 8 of group 8xh100-sxm-80gb is not in the matrix"),
        "{m}"
    );

    let cases: &[(&str, usize, &str)] = &[
        ("", 0, "no GPU0 column header"),
        ("GPU stuff\n", 0, "no GPU0 column header"),
        ("\tGPU0\tGPU2\n", 1, "column GPU2 where GPU1 was expected"),
        ("\tGPU0\tGPU1\nGPU0\t X \tNV4\n", 1, "no row for GPU1"),
        (
            "\tGPU0\tGPU1\nGPU0\t X \n",
            2,
            "row GPU0 has 1 of 2 GPU entries",
        ),
        (
            "\tGPU0\tGPU1\nGPU0\t X \tNV4\nGPU0\t X \tNV4\n",
            3,
            "row GPU0 appears twice",
        ),
        ("\tGPU0\nGPU0\tNV4\n", 2, "does not have X in column GPU0"),
        ("\tGPU0\nGPU0\t X\nGPU5\t X\n", 3, "row GPU5 has no column"),
    ];
    for (text, line, message) in cases {
        match Topology::parse("t.txt", text) {
            Err(Error::Parse {
                line: l,
                message: m,
                ..
            }) => {
                assert_eq!(l, *line, "{text:?}: {m}");
                assert!(m.contains(message), "{text:?}: {m}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

// -------------------------------------------------------------------------------------------
// GPU feature discovery labels
// -------------------------------------------------------------------------------------------

#[test]
fn labels_h100_a10g_t4() {
    let inv = Inventory::from_node_labels(&labels("labels-h100.json")).expect("H100");
    assert_eq!(inv.to_string(), "8xh100-sxm-80gb");
    assert_eq!(inv.groups[0].free_memory, None);

    let inv = Inventory::from_node_labels(&labels("labels-a10g.json")).expect("A10G");
    assert_eq!(inv.to_string(), "4xa10g-24gb");

    let inv = Inventory::from_node_labels(&labels("labels-t4.json")).expect("T4");
    assert_eq!(inv.to_string(), "1xt4-16gb");
    assert_eq!(inv.groups[0].memory_per_gpu(), Bytes::from_gib(14.75));
}

#[test]
fn labels_time_slicing_share_the_memory() {
    let inv = Inventory::from_node_labels(&labels("labels-t4-time-slicing.json")).expect("T4");
    assert_eq!(ids(&inv), [("t4-16gb", 1)]);
    // Four replicas of a T4: each pod can count on a quarter of its memory.
    assert_eq!(
        inv.groups[0].free_memory,
        Some(Bytes::new(Bytes::from_gib(14.75).get() / 4))
    );
}

#[test]
fn labels_mig_mixed_and_single() {
    let inv = Inventory::from_node_labels(&labels("labels-a100-mig-mixed.json")).expect("mixed");
    // 7 × 1g + 2 × 3g = 13 compute slices: at least 2 GPUs in MIG mode, 6 whole.
    assert_eq!(
        ids(&inv),
        [
            ("a100-sxm-80gb", 6),
            ("a100-sxm-80gb", 7),
            ("a100-sxm-80gb", 2)
        ]
    );
    assert!(inv.groups[0].mig.is_none());
    let small = inv.groups[1].mig.as_ref().expect("MIG");
    assert_eq!((small.name.as_str(), small.compute_slices), ("1g.10gb", 1));
    assert_eq!(small.memory, Bytes::new(9_728 * MIB));
    let large = inv.groups[2].mig.as_ref().expect("MIG");
    assert_eq!((large.name.as_str(), large.compute_slices), ("3g.40gb", 3));
    assert_eq!(large.memory, Bytes::new(40_192 * MIB));
    assert_eq!(inv.groups[2].memory_per_gpu().to_string(), "39.25 GiB");

    // An `all-...` MIG layout: every GPU is in MIG mode.
    let mut all = labels("labels-a100-mig-mixed.json");
    all.insert(
        "nvidia.com/mig.config".to_owned(),
        "all-balanced".to_owned(),
    );
    let inv = Inventory::from_node_labels(&all).expect("mixed");
    assert_eq!(ids(&inv), [("a100-sxm-80gb", 7), ("a100-sxm-80gb", 2)]);

    let inv = Inventory::from_node_labels(&labels("labels-a100-mig-single.json")).expect("single");
    assert_eq!(ids(&inv), [("a100-sxm-40gb", 56)]);
    let slice = inv.groups[0].mig.as_ref().expect("MIG");
    assert_eq!(slice.name, "1g.5gb");
    assert_eq!(slice.memory, Bytes::new(4_864 * MIB));
    assert!(!inv.groups[0].has_nvlink());
}

#[test]
fn labels_errors_name_the_label() {
    let mut no_product = labels("labels-h100.json");
    no_product.remove("nvidia.com/gpu.product");
    let (field, m) = invalid(Inventory::from_node_labels(&no_product));
    assert_eq!(field, "nvidia.com/gpu.product");
    assert!(m.starts_with("missing"), "{m}");

    let with = |key: &str, value: &str| {
        let mut l = labels("labels-h100.json");
        l.insert(key.to_owned(), value.to_owned());
        invalid(Inventory::from_node_labels(&l))
    };
    let (field, m) = with("nvidia.com/gpu.product", "NVIDIA-H999");
    assert_eq!(field, "nvidia.com/gpu.product");
    assert!(
        m.contains("unknown GPU \"NVIDIA-H999\"; nearest known"),
        "{m}"
    );
    let (field, m) = with(
        "nvidia.com/gpu.product",
        "NVIDIA-A100-SXM4-40GB-MIG-INVALID",
    );
    assert_eq!(field, "nvidia.com/gpu.product");
    assert!(m.contains("cannot express"), "{m}");
    let (field, m) = with("nvidia.com/gpu.product", "NVIDIA-L40S-MIG-1g.12gb");
    assert_eq!(field, "nvidia.com/gpu.product");
    assert!(m.contains("does not support MIG"), "{m}");
    assert_eq!(
        with("nvidia.com/gpu.count", "eight").0,
        "nvidia.com/gpu.count"
    );
    assert_eq!(with("nvidia.com/gpu.count", "0").0, "nvidia.com/gpu.count");
    assert_eq!(
        with("nvidia.com/gpu.count", "99999999999").0,
        "nvidia.com/gpu.count"
    );
    assert_eq!(
        with("nvidia.com/gpu.memory", "80GB").0,
        "nvidia.com/gpu.memory"
    );
    assert_eq!(
        with("nvidia.com/gpu.replicas", "-1").0,
        "nvidia.com/gpu.replicas"
    );
    let (field, m) = with("nvidia.com/mig.strategy", "both");
    assert_eq!(field, "nvidia.com/mig.strategy");
    assert!(m.contains("expected none, single or mixed"), "{m}");

    let mut no_count = labels("labels-h100.json");
    no_count.remove("nvidia.com/gpu.count");
    assert_eq!(
        invalid(Inventory::from_node_labels(&no_count)).0,
        "nvidia.com/gpu.count"
    );

    let mut mixed = labels("labels-a100-mig-mixed.json");
    mixed.insert("nvidia.com/mig-3g.40gb.count".to_owned(), "two".to_owned());
    assert_eq!(
        invalid(Inventory::from_node_labels(&mixed)).0,
        "nvidia.com/mig-3g.40gb.count"
    );
}

#[test]
fn labels_vgpu_and_small_framebuffers() {
    let mut l = labels("labels-a10g.json");
    l.insert("nvidia.com/vgpu.present".to_owned(), "true".to_owned());
    l.insert("nvidia.com/gpu.memory".to_owned(), "12288".to_owned());
    let inv = Inventory::from_node_labels(&l).expect("vGPU");
    assert!(inv.groups[0].vgpu);
    assert_eq!(inv.groups[0].free_memory, Some(Bytes::new(12 * GIB)));
}

#[test]
fn labels_of_a_cluster() {
    let mut cpu_node = BTreeMap::new();
    cpu_node.insert("kubernetes.io/hostname".to_owned(), "cpu-1".to_owned());
    let nodes = vec![
        ("gpu-h100".to_owned(), labels("labels-h100.json")),
        ("cpu-1".to_owned(), cpu_node),
        ("gpu-t4".to_owned(), labels("labels-t4.json")),
    ];
    let inventories = Inventory::from_node_labels_list(&nodes).expect("cluster");
    let names: Vec<(&str, String)> = inventories
        .iter()
        .map(|(n, inv)| (n.as_str(), inv.to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("gpu-h100", "8xh100-sxm-80gb".to_owned()),
            ("gpu-t4", "1xt4-16gb".to_owned())
        ]
    );

    let mut broken = labels("labels-t4.json");
    broken.insert("nvidia.com/gpu.count".to_owned(), "many".to_owned());
    match Inventory::from_node_labels_list(&[("gpu-2".to_owned(), broken)]) {
        Err(Error::Invalid { field, .. }) => assert_eq!(field, "node gpu-2: nvidia.com/gpu.count"),
        other => panic!("{other:?}"),
    }
}

// -------------------------------------------------------------------------------------------
// NVML
// -------------------------------------------------------------------------------------------

#[cfg(not(feature = "nvml"))]
#[test]
fn nvml_detect_without_the_feature_says_so() {
    assert_eq!(
        nvml::detect(),
        Err(Error::Nvml("built without the `nvml` feature".to_owned()))
    );
}

#[cfg(feature = "nvml")]
#[test]
fn nvml_detect_errs_without_a_driver() {
    if nvml::library_present() {
        // A machine with the driver: detection may succeed; it must still not panic.
        eprintln!(
            "skipped: {} is present on this machine, so the no-driver error cannot be checked; \
             detect() gave {:?}",
            nvml::LIBRARY,
            nvml::detect()
        );
        return;
    }
    assert_eq!(
        nvml::detect(),
        Err(Error::Nvml(
            "NVML library libnvidia-ml.so.1 not found: no NVIDIA driver on this machine".to_owned()
        ))
    );
}

// -------------------------------------------------------------------------------------------
// Properties
// -------------------------------------------------------------------------------------------

/// An inventory the description syntax can express: catalog GPUs, valid attributes.
fn arb_group() -> impl Strategy<Value = GpuGroup> {
    let gpus: Vec<_> = builtin().iter().cloned().collect();
    (
        prop::sample::select(gpus),
        1..=64_u32,
        prop::option::of(any::<bool>()),
        any::<bool>(),
        any::<prop::sample::Index>(),
        any::<bool>(),
        prop::option::of(0..=1_000_000_u64),
    )
        .prop_map(|(gpu, count, nvlink, vgpu, mig_index, use_mig, free_mib)| {
            let profiles = MigSlice::profiles(&gpu);
            let mig = (use_mig && !profiles.is_empty())
                .then(|| profiles[mig_index.index(profiles.len())].clone());
            let nvlink = match nvlink {
                Some(true) if mig.is_some() || gpu.nvlink_bandwidth().is_none() => Some(false),
                other => other,
            };
            let capacity = mig.as_ref().map_or(gpu.memory, |s| s.memory);
            let free_memory =
                free_mib.map(|mib| Bytes::new((mib * MIB).min(capacity.get() / MIB * MIB)));
            GpuGroup {
                gpu,
                count,
                nvlink,
                vgpu,
                mig,
                free_memory,
                indices: Vec::new(),
            }
        })
}

/// Text made of the pieces of the syntax, to reach deep into the parser.
fn spec_like() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "2x",
        "0x",
        "x",
        "H100",
        "L40S",
        "A100",
        "T4",
        "2330",
        "10de",
        ":",
        "+",
        "nvlink",
        "pcie",
        "vgpu",
        "passthrough",
        "mig=",
        "3g.40gb",
        "1g.10gb",
        "+me",
        "free=",
        "70GiB",
        "1.5",
        "GB",
        "=",
        " ",
        "×",
        "é",
        "9999999999",
        ".",
        "g",
        "gb",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parse_never_panics(spec in any::<String>()) {
        let _ = Inventory::parse(&spec);
    }

    #[test]
    fn parse_never_panics_on_spec_like_text(spec in spec_like()) {
        if let Ok(inventory) = Inventory::parse(&spec) {
            // Whatever parses displays to something that parses to the same.
            prop_assert_eq!(Inventory::parse(&inventory.to_string()).ok(), Some(inventory));
        }
    }

    #[test]
    fn display_parse_round_trips(groups in prop::collection::vec(arb_group(), 1..5)) {
        let inventory = Inventory { groups };
        let text = inventory.to_string();
        prop_assert_eq!(Inventory::parse(&text).ok(), Some(inventory), "{}", text);
    }

    #[test]
    fn other_readers_never_panic(text in any::<String>(), spec in spec_like()) {
        let _ = Inventory::from_nvidia_smi_csv("x.csv", &text);
        let _ = Inventory::from_nvidia_smi_csv("x.csv", &format!("name, pci.device_id\n{spec}, {text}"));
        let _ = Topology::parse("t.txt", &text);
        let _ = Topology::parse("t.txt", &format!("\tGPU0\tGPU1\nGPU0 {text}\nGPU1 {spec}"));
        let _ = parse("2xH100").with_topology("t.txt", &text);
        let labels: BTreeMap<String, String> = [
            ("nvidia.com/gpu.product".to_owned(), spec.clone()),
            ("nvidia.com/gpu.count".to_owned(), text.clone()),
            ("nvidia.com/mig.strategy".to_owned(), "mixed".to_owned()),
            (format!("nvidia.com/mig-{spec}.count"), text.clone()),
        ]
        .into_iter()
        .collect();
        let _ = Inventory::from_node_labels(&labels);
    }

    #[test]
    fn labels_never_panic_on_numbers(count in any::<u64>(), memory in any::<u64>(), replicas in any::<u64>(), mig in any::<u64>()) {
        let labels: BTreeMap<String, String> = [
            ("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB".to_owned()),
            ("nvidia.com/gpu.count", count.to_string()),
            ("nvidia.com/gpu.memory", memory.to_string()),
            ("nvidia.com/gpu.replicas", replicas.to_string()),
            ("nvidia.com/mig.strategy", "mixed".to_owned()),
            ("nvidia.com/mig-3g.40gb.count", mig.to_string()),
            ("nvidia.com/mig-3g.40gb.slices.gi", memory.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Ok(inventory) = Inventory::from_node_labels(&labels) {
            prop_assert!(inventory.total_gpus() > 0);
        }
    }
}
