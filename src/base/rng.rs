//! Counter-based random streams: every entity that owns randomness gets its own
//! generator, seeded by a documented hash of (seed, replicate, kind, indices).
//!
//! The hash is a splitmix64 chain: `h = mix(seed)`, then `h = mix(h ^ part)` for
//! each further part (replicate, stream kind, then entity indices), and the
//! Xoshiro256++ state is filled from `h` by splitmix64 as `seed_from_u64` does.
//! An extra draw for one entity therefore never shifts another entity's draws,
//! which is what common random numbers and monotone sweeps rely on
//! (docs/model.md §7).
//!
//! Must never: use a global, thread-local or OS-seeded generator.

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The splitmix64 finaliser: a bijection on `u64` with good avalanche.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a stream is for; part of its key so two kinds never share draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum StreamKind {
    /// Group sizes of the whole population (one sequential stream).
    Population = 1,
    /// A group: kind, segment, IP, shared device.
    Group = 2,
    /// A person: frailty, devices, baseline clock, sales draws.
    Person = 3,
    /// The candidate-touch process of one (person, channel): times and keep uniforms.
    Candidates = 4,
    /// One kept candidate touch: arming, delay, engagement, device.
    Touch = 5,
    /// Return-visit candidates of one person.
    ReturnVisits = 6,
    /// Observation draws of one device (cookies, consent, private windows).
    ObserveDevice = 7,
    /// Observation draws of one person (emails typed, form fills, CRM).
    ObservePerson = 8,
    /// Observation draws of one visit (referrer loss).
    ObserveVisit = 9,
    /// Experiment-level draws (e.g. sampling, bagging), keyed by purpose.
    Experiment = 10,
}

/// The key of a stream: (seed, replicate, kind, up to three indices).
#[inline]
pub fn stream_key(seed: u64, replicate: u32, kind: StreamKind, a: u64, b: u64, c: u64) -> u64 {
    key_with(stream_prefix(seed, replicate, kind, a, b), c)
}

/// The key chain up to the second index: streams that differ only in the last
/// index (the touches of one person and channel) share it.
#[inline]
pub fn stream_prefix(seed: u64, replicate: u32, kind: StreamKind, a: u64, b: u64) -> u64 {
    KindKey::new(seed, replicate, kind).prefix(a, b)
}

/// The key chain of (seed, replicate, kind), computed once for the many
/// streams of one kind in a replicate (the same keys as [`stream_key`]).
#[derive(Clone, Copy, Debug)]
pub struct KindKey(u64);

impl KindKey {
    /// The chain of `seed`, `replicate` and `kind`.
    #[inline]
    pub fn new(seed: u64, replicate: u32, kind: StreamKind) -> Self {
        let mut h = mix64(seed);
        h = mix64(h ^ replicate as u64);
        KindKey(mix64(h ^ kind as u64))
    }

    /// `stream_prefix(seed, replicate, kind, a, b)`.
    #[inline]
    pub fn prefix(self, a: u64, b: u64) -> u64 {
        self.at(a).prefix(b)
    }

    /// The chain extended by the first index: for the several streams of
    /// one entity (a device's sub-streams).
    #[inline]
    pub fn at(self, a: u64) -> EntityKey {
        EntityKey(mix64(self.0 ^ a))
    }

    /// The stream `Stream::new(seed, replicate, kind, a, b, c)`.
    #[inline]
    pub fn stream(self, a: u64, b: u64, c: u64) -> Stream {
        Stream::from_key(key_with(self.prefix(a, b), c))
    }
}

/// Complete a key from its prefix and last index.
#[inline]
pub fn key_with(prefix: u64, c: u64) -> u64 {
    mix64(prefix ^ c)
}

/// The key chain of (seed, replicate, kind, first index).
#[derive(Clone, Copy, Debug)]
pub struct EntityKey(u64);

impl EntityKey {
    /// `stream_prefix(seed, replicate, kind, a, b)`.
    #[inline]
    pub fn prefix(self, b: u64) -> u64 {
        mix64(self.0 ^ b)
    }

    /// The stream `Stream::new(seed, replicate, kind, a, b, c)`.
    #[inline]
    pub fn stream(self, b: u64, c: u64) -> Stream {
        Stream::from_key(key_with(self.prefix(b), c))
    }
}

/// A small-mean Poisson distribution with its `e^−mean` computed once.
#[derive(Clone, Copy, Debug)]
pub struct SmallPoisson {
    mean: f64,
    p0: f64,
}

impl SmallPoisson {
    /// The distribution of mean `mean` (≤ 0: always 0).
    pub fn new(mean: f64) -> Self {
        SmallPoisson {
            mean,
            p0: (-mean).exp(),
        }
    }
}

/// A seeded stream of draws with the few samplers the simulation needs.
pub struct Stream {
    rng: Xoshiro256PlusPlus,
}

impl Stream {
    /// The stream for a key from [`stream_key`]: the Xoshiro256++ state is the
    /// first four outputs of splitmix64 started at `key` — the same state as
    /// `Xoshiro256PlusPlus::seed_from_u64(key)`, computed without its generic
    /// byte-filling path.
    #[inline]
    pub fn from_key(key: u64) -> Self {
        let mut seed = [0u8; 32];
        for (i, chunk) in seed.chunks_exact_mut(8).enumerate() {
            let word = mix64(key.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        Stream {
            rng: Xoshiro256PlusPlus::from_seed(seed),
        }
    }

    /// Shorthand for `Stream::from_key(stream_key(..))`.
    #[inline]
    pub fn new(seed: u64, replicate: u32, kind: StreamKind, a: u64, b: u64, c: u64) -> Self {
        Self::from_key(stream_key(seed, replicate, kind, a, b, c))
    }

    /// A raw 64-bit draw.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Uniform on [0, 1) with 53 bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform on (0, 1]: safe to take a logarithm of.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        1.0 - self.uniform()
    }

    /// Exponential with the given rate (mean 1/rate), by ziggurat.
    #[inline]
    pub fn exp(&mut self, rate: f64) -> f64 {
        let e: f64 = Exp1.sample(&mut self.rng);
        e / rate
    }

    /// Poisson by inversion; meant for small means (< 30).
    pub fn poisson_small(&mut self, mean: f64) -> u32 {
        self.poisson(SmallPoisson::new(mean))
    }

    /// Poisson by inversion with `e^−mean` computed once (the same draws as
    /// [`Stream::poisson_small`]): for a mean used in an inner loop.
    #[inline]
    pub fn poisson(&mut self, d: SmallPoisson) -> u32 {
        let SmallPoisson { mean, p0 } = d;
        if mean <= 0.0 {
            return 0;
        }
        let mut k = 0u32;
        let mut p = p0;
        let mut cdf = p;
        let u = self.uniform();
        while u > cdf && k < 1000 {
            k += 1;
            p *= mean / k as f64;
            cdf += p;
        }
        k
    }

    /// Standard normal, by ziggurat.
    #[inline]
    pub fn normal(&mut self) -> f64 {
        StandardNormal.sample(&mut self.rng)
    }

    /// Gamma(shape, scale) by Marsaglia–Tsang (boosted for shape < 1).
    pub fn gamma(&mut self, shape: f64, scale: f64) -> f64 {
        if shape < 1.0 {
            let u = self.uniform_open0();
            return self.gamma(shape + 1.0, scale) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = 1.0 + c * x;
            if v <= 0.0 {
                continue;
            }
            let v = v * v * v;
            let u = self.uniform_open0();
            if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
                return d * v * scale;
            }
        }
    }

    /// Index drawn from non-negative weights (which need not sum to 1).
    pub fn pick(&mut self, weights: &[f64]) -> usize {
        pick_with(self.uniform(), weights)
    }
}

/// Index drawn from weights using a given uniform (last positive index on round-off).
pub fn pick_with(u: f64, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut target = u * total;
    let mut last = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            last = i;
            if target < w {
                return i;
            }
            target -= w;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_key_gives_the_same_streams_as_the_full_chain() {
        for (seed, rep, a, b, c) in [
            (1, 0, 0, 0, 0),
            (2024, 3, 17, 5, 9),
            (u64::MAX, 7, 1 << 40, 3, 255),
        ] {
            let k = KindKey::new(seed, rep, StreamKind::Touch);
            assert_eq!(
                k.prefix(a, b),
                stream_prefix(seed, rep, StreamKind::Touch, a, b)
            );
            let mut x = k.stream(a, b, c);
            let mut y = Stream::new(seed, rep, StreamKind::Touch, a, b, c);
            assert_eq!(x.next_u64(), y.next_u64());
        }
        let (mut p, mut q) = (
            Stream::new(9, 0, StreamKind::Person, 1, 2, 0),
            Stream::new(9, 0, StreamKind::Person, 1, 2, 0),
        );
        for mean in [0.0, 0.3, 2.5, 12.0] {
            assert_eq!(p.poisson_small(mean), q.poisson(SmallPoisson::new(mean)));
        }
    }

    /// Value stability: a change to the hash or the generator shows up here.
    #[test]
    fn streams_are_pinned() {
        let mut s = Stream::new(42, 0, StreamKind::Person, 7, 0, 0);
        let a = s.next_u64();
        let mut s2 = Stream::new(42, 0, StreamKind::Person, 7, 0, 0);
        assert_eq!(a, s2.next_u64());
        let mut other = Stream::new(42, 0, StreamKind::Person, 8, 0, 0);
        assert_ne!(a, other.next_u64());
        assert_eq!(mix64(0), 0xE220_A839_7B1D_CDAF);
        // The fast seeding gives exactly `seed_from_u64`'s state.
        for key in [0u64, 1, 42, u64::MAX, 0x1234_5678_9abc_def0] {
            let mut fast = Stream::from_key(key);
            let mut slow = Xoshiro256PlusPlus::seed_from_u64(key);
            for _ in 0..4 {
                assert_eq!(fast.next_u64(), slow.next_u64());
            }
        }
        let prefix = stream_prefix(1, 2, StreamKind::Touch, 3, 4);
        assert_eq!(
            stream_key(1, 2, StreamKind::Touch, 3, 4, 5),
            key_with(prefix, 5)
        );
    }

    #[test]
    fn gamma_has_the_right_mean() {
        let mut s = Stream::new(1, 0, StreamKind::Experiment, 0, 0, 0);
        for &(k, th) in &[(0.5, 2.0), (1.0, 1.0), (3.0, 0.5)] {
            let n = 200_000;
            let mean: f64 = (0..n).map(|_| s.gamma(k, th)).sum::<f64>() / n as f64;
            assert!(
                (mean - k * th).abs() < 0.02 * k * th + 0.01,
                "k={k} mean={mean}"
            );
        }
    }

    #[test]
    fn poisson_small_has_the_right_mean() {
        let mut s = Stream::new(2, 0, StreamKind::Experiment, 0, 0, 0);
        let n = 100_000;
        let mean: f64 = (0..n).map(|_| s.poisson_small(0.8) as f64).sum::<f64>() / n as f64;
        assert!((mean - 0.8).abs() < 0.02, "{mean}");
    }
}
