//! The JVM random generators behind Spark's seeded results: `java.util.Random` (the
//! per-partition seeds of a sample with replacement), Apache Commons Math's `Well19937c` (its
//! Poisson draws) and `MersenneTwister` (`shuffle`'s permutations), with the
//! `nextDouble`/`nextInt(n)` Commons Math defines over them, and its Poisson sampling for
//! small means. Spark's own XORShift generator (`rand`,
//! Bernoulli sampling) is `super::random::XorShiftRandom`.

/// `java.util.Random`: the 48-bit linear congruential generator.
pub(crate) struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULTIPLIER: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;

    pub(crate) fn new(seed: i64) -> Self {
        Self {
            seed: (seed as u64 ^ Self::MULTIPLIER) & Self::MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULTIPLIER).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> (48 - bits)) as u32 as i32
    }

    pub(crate) fn next_long(&mut self) -> i64 {
        let high = i64::from(self.next(32)) << 32;
        high.wrapping_add(i64::from(self.next(32)))
    }
}

/// What Commons Math's `BitsStreamGenerator` builds on: `next(bits)`.
pub(crate) trait Bits {
    /// The next `bits` random bits, as Commons Math's `next(bits)` returns them.
    fn next(&mut self, bits: u32) -> i32;

    /// `nextDouble()`: 52 bits in `[0, 1)`.
    fn next_double(&mut self) -> f64 {
        let high = (i64::from(self.next(26)) << 26) as u64;
        let low = self.next(26) as u32 as u64;
        (high | low) as f64 * f64::from_bits(0x3CB0_0000_0000_0000) // 2^-52
    }
}

/// `nextInt(n)` for `n > 0`, as Commons Math's `BitsStreamGenerator` draws it.
pub(crate) fn next_int_below(rng: &mut impl Bits, n: i32) -> i32 {
    if n & n.wrapping_neg() == n {
        return ((i64::from(n) * i64::from(rng.next(31))) >> 31) as i32;
    }
    loop {
        let bits = rng.next(31);
        let val = bits % n;
        if bits.wrapping_sub(val).wrapping_add(n - 1) >= 0 {
            return val;
        }
    }
}

/// Commons Math's seeding of a long: its high and low 32-bit halves.
fn seed_ints(seed: i64) -> [i32; 2] {
    [(seed as u64 >> 32) as u32 as i32, seed as u32 as i32]
}

/// Commons Math's `Well19937c`.
pub(crate) struct Well19937c {
    v: Vec<i32>,
    index: usize,
}

impl Well19937c {
    const R: usize = 624;
    const M1: usize = 70;
    const M2: usize = 179;
    const M3: usize = 449;

    pub(crate) fn new(seed: i64) -> Self {
        let mut v = vec![0i32; Self::R];
        let ints = seed_ints(seed);
        v[..2].copy_from_slice(&ints);
        for i in 2..Self::R {
            let l = i64::from(v[i - 2]);
            v[i] = (1_812_433_253i64
                .wrapping_mul(l ^ (l >> 30))
                .wrapping_add(i as i64)
                & 0xffff_ffff) as u32 as i32;
        }
        Self { v, index: 0 }
    }
}

impl Bits for Well19937c {
    fn next(&mut self, bits: u32) -> i32 {
        let r = Self::R;
        let i = self.index;
        let rm1 = (i + r - 1) % r;
        let rm2 = (i + r - 2) % r;
        let v = &mut self.v;
        let v0 = v[i] as u32;
        let vm1 = v[(i + Self::M1) % r] as u32;
        let vm2 = v[(i + Self::M2) % r] as u32;
        let vm3 = v[(i + Self::M3) % r] as u32;
        let z0 = (0x8000_0000 & v[rm1] as u32) ^ (0x7FFF_FFFF & v[rm2] as u32);
        let z1 = (v0 ^ (v0 << 25)) ^ (vm1 ^ (vm1 >> 27));
        let z2 = (vm2 >> 9) ^ (vm3 ^ (vm3 >> 1));
        let z3 = z1 ^ z2;
        let mut z4 = z0 ^ (z1 ^ (z1 << 9)) ^ (z2 ^ (z2 << 21)) ^ (z3 ^ (z3 >> 21));
        v[i] = z3 as i32;
        v[rm1] = z4 as i32;
        v[rm2] = (v[rm2] as u32 & 0x8000_0000) as i32;
        self.index = rm1;
        // Matsumoto-Kurita tempering
        z4 ^= (z4 << 7) & 0xe46e_1700;
        z4 ^= (z4 << 15) & 0x9b86_8000;
        (z4 >> (32 - bits)) as i32
    }
}

/// Commons Math's `MersenneTwister` (MT19937, seeded by array as its `setSeed(long)` does).
#[derive(Debug)]
pub(crate) struct MersenneTwister {
    mt: [u32; 624],
    mti: usize,
}

impl MersenneTwister {
    const N: usize = 624;
    const M: usize = 397;

    pub(crate) fn new(seed: i64) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = 19_650_218;
        for i in 1..Self::N {
            mt[i] = 1_812_433_253u32
                .wrapping_mul(mt[i - 1] ^ (mt[i - 1] >> 30))
                .wrapping_add(i as u32);
        }
        let key = seed_ints(seed).map(|k| k as u32);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..Self::N.max(key.len()) {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_664_525))
                .wrapping_add(key[j])
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= Self::N {
                mt[0] = mt[Self::N - 1];
                i = 1;
            }
            if j >= key.len() {
                j = 0;
            }
        }
        for _ in 0..Self::N - 1 {
            let prev = mt[i - 1] ^ (mt[i - 1] >> 30);
            mt[i] = (mt[i] ^ prev.wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= Self::N {
                mt[0] = mt[Self::N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        Self { mt, mti: Self::N }
    }
}

impl Bits for MersenneTwister {
    fn next(&mut self, bits: u32) -> i32 {
        const MAG01: [u32; 2] = [0, 0x9908_b0df];
        if self.mti >= Self::N {
            let mt = &mut self.mt;
            for k in 0..Self::N {
                let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % Self::N] & 0x7fff_ffff);
                mt[k] = mt[(k + Self::M) % Self::N] ^ (y >> 1) ^ MAG01[(y & 1) as usize];
            }
            self.mti = 0;
        }
        let mut y = self.mt[self.mti];
        self.mti += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        (y >> (32 - bits)) as i32
    }
}

/// Commons Math's `PoissonDistribution.sample()` for a mean below 40 (Spark's sample fractions
/// are at most a few): multiply uniforms until the product falls under `e^-mean`.
pub(crate) fn poisson(rng: &mut Well19937c, mean: f64) -> i64 {
    let p = (-mean).exp();
    let (mut n, mut r) = (0i64, 1.0f64);
    while (n as f64) < 1000.0 * mean {
        r *= rng.next_double();
        if r >= p {
            n += 1;
        } else {
            return n;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by the JDK 17 and commons-math3 3.6.1 (the jar Spark ships):
    // `new java.util.Random(3).nextLong()`, `new Well19937c(7L).nextDouble()`, ...
    #[test]
    fn jdk_random() {
        let mut r = JavaRandom::new(3);
        assert_eq!(r.next_long(), -4961115986754665064);
        assert_eq!(r.next_long(), 1309571695633557482);
    }

    #[test]
    fn well19937c() {
        let mut w = Well19937c::new(7);
        assert_eq!(w.next_double(), 0.052353071547697416);
        assert_eq!(w.next_double(), 0.1763798200284885);
        assert_eq!(w.next(32), 926396430);
        assert_eq!(
            Well19937c::new(-8034123123123).next_double(),
            0.4969063910646232
        );
    }

    #[test]
    fn mersenne_twister() {
        // new MersenneTwister(123L): nextInt(1..=4), then nextInt()
        let mut m = MersenneTwister::new(123);
        let firsts: Vec<i32> = (1..=4).map(|n| next_int_below(&mut m, n)).collect();
        assert_eq!(firsts, vec![0, 0, 0, 0]);
        assert_eq!(m.next(32), -1353684877);
        let mut m = MersenneTwister::new(-77);
        let draws: Vec<i32> = (1..=12).map(|i| next_int_below(&mut m, i * 7)).collect();
        assert_eq!(draws, vec![0, 8, 15, 3, 13, 9, 36, 33, 13, 20, 36, 32]);
        assert_eq!(m.next(32), 691080041);
    }

    #[test]
    fn poisson_draws() {
        let mut w = Well19937c::new(JavaRandom::new(3).next_long());
        let draws: Vec<i64> = (0..10).map(|_| poisson(&mut w, 0.5)).collect();
        assert_eq!(draws, vec![0, 0, 0, 0, 0, 1, 1, 0, 0, 0]);
    }
}
