//! The attribution bench's data, shared by `benches/attribute.rs`
//! and `examples/paths_file.rs`: 1M journeys over 8 channels with geometric
//! path lengths (~224k distinct paths), generated deterministically.

use closedloop::attribute::Journeys;

const JOURNEYS: usize = 1_000_000;
const CHANNELS: usize = 8;

/// splitmix64: a fixed, seedable stream (the bench only needs determinism).
struct Stream(u64);

impl Stream {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Journeys with geometric lengths (mean 4), skewed channel popularity, a
/// conversion rate rising with the channels touched, revenue on a third of
/// conversions and an opportunity on half of them.
pub fn journeys() -> Journeys {
    let mut labels: Vec<String> = (0..CHANNELS).map(|i| format!("channel_{i}")).collect();
    labels.extend(["direct", "unassigned", "unknown"].map(String::from));
    let mut js = Journeys::new(labels, CHANNELS);
    // Channel popularity ∝ 1 / (i + 1).
    let weights: Vec<f64> = (0..CHANNELS).map(|i| 1.0 / (i + 1) as f64).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::new();
    let mut acc = 0.0;
    for w in &weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut rng = Stream(2026);
    let hour = 3_600_000i64;
    let mut touches: Vec<(i64, u16)> = Vec::new();
    for _ in 0..JOURNEYS {
        touches.clear();
        let mut t = 0i64;
        loop {
            let u = rng.uniform();
            let label = cdf.iter().position(|&c| u < c).unwrap_or(CHANNELS - 1) as u16;
            touches.push((t, label));
            t += 1 + (rng.uniform() * 200.0) as i64 * hour;
            if rng.uniform() < 0.25 {
                break;
            }
        }
        let distinct = {
            let mut m = 0u32;
            touches.iter().for_each(|&(_, l)| m |= 1 << l);
            m.count_ones() as f64
        };
        let converts = rng.uniform() < 0.04 * distinct;
        let (lead, opp, conversions, nulls, revenue) = if converts {
            let lead = t + hour;
            let opp = (rng.uniform() < 0.5).then_some(lead + 48 * hour);
            let revenue = if rng.uniform() < 0.33 {
                1000.0 + 9000.0 * rng.uniform()
            } else {
                0.0
            };
            (Some(lead), opp, 1.0, 0.0, revenue)
        } else {
            (None, None, 0.0, 1.0, 0.0)
        };
        js.push_journey(&touches, lead, opp, conversions, nulls, revenue);
    }
    js
}
