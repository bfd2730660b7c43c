//! Generative families (docs/model.md §1.8): what is particular to each one —
//! its mechanism, its table in scenario files, its determinism. The
//! invariants every family shares (sums, removal = a zero-spend re-run,
//! monotone spend, observation never changes the truth, lossless
//! deterministic = oracle, one channel = 100 %, block size) run on each
//! family in `tests/invariants.rs`.

use closedloop::experiment::{self, RunConfig};
use closedloop::scenario::{Family, Scenario};
use closedloop::spec::{AttributorSpec, StitcherSpec};
use closedloop::world::{self, Cause};

#[allow(dead_code)] // the binary-driving helpers are not used here
mod common;

/// The quickstart in family `family`, with `table` appended to its file.
fn quickstart_in(family: &str, table: &str) -> Result<Scenario, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/quickstart.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let text = format!("{text}\n[world]\nfamily = \"{family}\"\n{table}\n");
    Scenario::from_toml_str("q.toml", &text).map_err(|e| e.to_string())
}

#[test]
fn a_funnel_lead_is_caused_by_the_touch_that_moved_its_person_into_intent() {
    let mut sc = quickstart_in("funnel", "[world.funnel]\nlead_delay_days = 3").unwrap();
    sc.persons = 6_000;
    let opts = world::GenOptions {
        keep_warmup: true,
        ..Default::default()
    };
    let w = world::generate_with_options(&sc, 0, &world::scenario_spends(&sc), opts);
    let mut by_touch = 0;
    for (p, lead) in w.leads() {
        let Cause::Channel(c) = lead.cause else {
            continue;
        };
        by_touch += 1;
        let i = lead.cause_touch.expect("a channel cause has its touch") as usize;
        let t = &w.touches[i];
        assert_eq!(t.person, p);
        assert!(t.armed, "the causing touch moved its person up");
        assert_eq!(t.source, world::Source::Channel(c));
        assert!(lead.time >= t.time, "the lead follows reaching intent");
        // The stages below intent were climbed by earlier touches of the person.
        let (a, b) = w.persons[p as usize].touches;
        let ups = w.touches[a as usize..=i].iter().filter(|x| x.armed).count();
        assert!(ups >= 3, "person {p}: {ups} moves up for a 3-step funnel");
        assert!(i < b as usize);
    }
    assert!(by_touch > 100, "{by_touch} leads caused by a touch");
}

#[test]
fn the_funnel_does_not_depend_on_the_thread_count() {
    let mut sc = quickstart_in("funnel", "").unwrap();
    sc.persons = 4_000;
    let cfg = RunConfig {
        stitchers: vec![StitcherSpec::Deterministic],
        models: ["last_touch", "markov"]
            .iter()
            .map(|m| AttributorSpec::parse(m).unwrap())
            .collect(),
        replicates: 1,
    };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut r = pool.install(|| experiment::run_replicate(&sc, &cfg, 0));
        r.timings.clear();
        format!("{r:?}")
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn the_same_draws_give_different_worlds_in_different_families() {
    // Everything but the mechanism is shared: the same persons and touch
    // candidates, different leads.
    let mut clocks = quickstart_in("clocks", "").unwrap();
    clocks.persons = 3_000;
    let mut funnel = clocks.clone();
    funnel.world.family = Family::Funnel;
    let (a, b) = (world::generate(&clocks, 0), world::generate(&funnel, 0));
    assert_eq!(a.groups, b.groups);
    assert_eq!(a.devices, b.devices);
    let zs = |w: &world::World| w.persons.iter().map(|p| p.z).collect::<Vec<_>>();
    assert_eq!(zs(&a), zs(&b));
    let leads = |w: &world::World| w.leads().map(|(p, _)| p).collect::<Vec<_>>();
    assert_ne!(leads(&a), leads(&b));
}

#[test]
fn a_family_table_is_checked_and_another_familys_is_an_error() {
    let err = |family: &str, table: &str| quickstart_in(family, table).unwrap_err();
    let e = err("clocks", "[world.funnel]\nsteps = 2");
    assert!(e.contains("world.funnel:") && e.contains("family"), "{e}");
    let e = err("funnel", "[world.funnel]\nsteps = 4");
    assert!(e.contains("world.funnel.steps = 4"), "{e}");
    let e = err(
        "funnel",
        "[world.funnel]\nsteps = 2\ndefault_advance = [0.1, 0.2, 0.3]",
    );
    assert!(
        e.contains("world.funnel.default_advance") && e.contains("2 probabilities"),
        "{e}"
    );
    let e = err(
        "funnel",
        "[world.funnel.advance]\ndisplay = [0.5, 0.1, 1.5]",
    );
    assert!(e.contains("world.funnel.advance.display[2] = 1.5"), "{e}");
    let e = err("funnel", "[world.funnel.advance]\ntv = [0.5, 0.1, 0.1]");
    assert!(
        e.contains("world.funnel.advance.tv") && e.contains("channel id"),
        "{e}"
    );
    let e = err("funnel", "[world.funnel]\ndecay_days = 0");
    assert!(e.contains("world.funnel.decay_days"), "{e}");
    let e = err("funnel", "[world.funnel]\nhalf_life = 3");
    assert!(
        e.contains("world.funnel.half_life") && e.contains("unknown key"),
        "{e}"
    );
    let e = err("tides", "");
    assert!(e.contains("tides"), "{e}");
    // The defaults fill a 1-step funnel with the last step's probability.
    let sc = quickstart_in("funnel", "[world.funnel]\nsteps = 1\ndecay_days = inf").unwrap();
    let f = sc.world.funnel().unwrap();
    assert_eq!(f.advance_of("display"), vec![0.08]);
}
