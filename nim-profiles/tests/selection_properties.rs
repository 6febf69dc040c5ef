//! Invariants of the selection over generated manifests and inventories.

use std::collections::BTreeMap;

use nim_profiles::selection::{SelectionOptions, Verdict, select};
use nim_profiles::{Inventory, Profile};
use proptest::prelude::*;

const ENGINES: [&str; 3] = ["tensorrt_llm", "vllm", "sglang"];
const PRECISIONS: [&str; 5] = ["fp8", "bf16", "fp16", "int4_awq", "nvfp4"];
const GPUS: [(&str, &str); 4] = [
    ("", ""),
    ("H100", "2330:10de"),
    ("A100", "20b2:10de"),
    ("L40S", "26b9:10de"),
];
const INVENTORIES: [&str; 5] = [
    "1xH100-SXM-80GB",
    "8xH100-SXM-80GB",
    "2xA100-SXM4-80GB",
    "4xL40S:vgpu",
    "2xL40S+1xH100-SXM-80GB",
];

fn profile() -> impl Strategy<Value = BTreeMap<String, String>> {
    (
        0..3usize,
        0..5usize,
        0..4u32,
        0..3usize,
        0..4usize,
        any::<bool>(),
    )
        .prop_map(|(e, p, tp, q, g, lora)| {
            let mut tags = BTreeMap::new();
            tags.insert("llm_engine".to_owned(), ENGINES[e].to_owned());
            tags.insert("precision".to_owned(), PRECISIONS[p].to_owned());
            tags.insert("tp".to_owned(), (1u32 << tp).to_string());
            tags.insert("pp".to_owned(), "1".to_owned());
            if q > 0 {
                tags.insert(
                    "profile".to_owned(),
                    ["latency", "throughput"][q - 1].to_owned(),
                );
            }
            let (gpu, device) = GPUS[g];
            if !gpu.is_empty() {
                tags.insert("gpu".to_owned(), gpu.to_owned());
                tags.insert("gpu_device".to_owned(), device.to_owned());
            }
            tags.insert("feat_lora".to_owned(), lora.to_string());
            tags
        })
}

fn manifest() -> impl Strategy<Value = Vec<Profile>> {
    prop::collection::vec(profile(), 0..12).prop_map(|all| {
        all.into_iter()
            .enumerate()
            .map(|(i, tags)| Profile::from_tags(format!("{i:064x}"), tags).expect("valid tags"))
            .collect()
    })
}

fn setup() -> impl Strategy<Value = (Vec<Profile>, Inventory, bool)> {
    (manifest(), 0..INVENTORIES.len(), any::<bool>()).prop_map(|(profiles, i, lora)| {
        (profiles, INVENTORIES[i].parse().expect("inventory"), lora)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The same profiles in any order give the same choice and the same ranking.
    #[test]
    fn deterministic_and_independent_of_manifest_order((profiles, inventory, lora) in setup(), seed in any::<u64>()) {
        let options = SelectionOptions { lora, ..SelectionOptions::default() };
        let first = select(&profiles, &inventory, &options);
        let mut shuffled = profiles.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let second = select(&shuffled, &inventory, &options);
        let ranked = |s: &nim_profiles::Selection| s.runnable().map(|d| d.profile.id.clone()).collect::<Vec<_>>();
        prop_assert_eq!(ranked(&first), ranked(&second));
        prop_assert_eq!(select(&profiles, &inventory, &options), first);
    }

    /// A profile that cannot run never changes the choice.
    #[test]
    fn unrunnable_profiles_never_change_the_choice((mut profiles, inventory, lora) in setup(), extra in profile()) {
        let options = SelectionOptions { lora, ..SelectionOptions::default() };
        let before = select(&profiles, &inventory, &options).selected().map(|d| d.profile.id.clone());
        let candidate = Profile::from_tags(format!("{:064x}", 9999), extra).expect("valid tags");
        let alone = select(std::slice::from_ref(&candidate), &inventory, &options);
        prop_assume!(alone.selected().is_none());
        profiles.push(candidate);
        let after = select(&profiles, &inventory, &options).selected().map(|d| d.profile.id.clone());
        prop_assert_eq!(before, after);
    }

    /// If any profile is runnable, exactly one is selected, and it is runnable.
    #[test]
    fn a_runnable_profile_is_always_selected((profiles, inventory, lora) in setup()) {
        let options = SelectionOptions { lora, ..SelectionOptions::default() };
        let selection = select(&profiles, &inventory, &options);
        let selected = selection.decisions.iter().filter(|d| d.verdict == Verdict::Selected).count();
        let runnable_alone = profiles
            .iter()
            .filter(|p| select(std::slice::from_ref(*p), &inventory, &options).selected().is_some())
            .count();
        prop_assert_eq!(selection.decisions.len(), profiles.len());
        prop_assert_eq!(selected, usize::from(runnable_alone > 0));
        prop_assert_eq!(selection.runnable().count(), runnable_alone);
        if let Some(decision) = selection.selected() {
            prop_assert!(decision.reasons[0].starts_with("selected"));
            // Selected alone too: runnability does not depend on the other profiles.
            prop_assert!(select(std::slice::from_ref(&decision.profile), &inventory, &options).selected().is_some());
            prop_assert!(decision.group.is_some());
        }
        for decision in &selection.decisions {
            if decision.verdict == Verdict::Rejected {
                prop_assert!(!decision.reasons.is_empty(), "a rejection without a reason");
            }
        }
    }
}
