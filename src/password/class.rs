//! Hash classes: the parameters of a stored hash without its salt, which set
//! what verifying a password against it costs. A failed login for an unknown
//! address must cost what one for a real account costs, and a store taken over
//! from FastAPI Users keeps hashes of other classes (bcrypt, argon2id at 64
//! MiB) until their users next log in: the manager measures the classes its
//! store holds (see `UserManager::calibrate_login_timing`).

use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use super::PasswordHasher;
use super::hasher::{BCRYPT_COST_KIB, blocks_to_keep, parse_argon2, verify_now, with_blocks};
use crate::error::{Error, Result};
use crate::user::PasswordHash;

/// The parameters of a stored password hash, without its salt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashClass {
    /// An argon2 PHC hash: variant, version and `m`, `t`, `p`.
    Argon2 {
        algorithm: Algorithm,
        version: Version,
        m_kib: u32,
        t: u32,
        p: u32,
    },
    /// A bcrypt hash of this cost.
    Bcrypt { cost: u32 },
}

/// What comes before the salt of a stored hash (its parameters): up to the
/// third `$` of a bcrypt hash (`$2b$12$`), the fourth of another
/// (`$argon2id$v=19$m=65536,t=3,p=4$`); the whole string when shorter. Hashes
/// with the same prefix cost the same to verify.
pub(crate) fn parameters_prefix(hash: &str) -> &str {
    let dollars = if hash.starts_with("$2") { 3 } else { 4 };
    let end = hash
        .match_indices('$')
        .nth(dollars - 1)
        .map_or(hash.len(), |(index, _)| index + 1);
    &hash[..end]
}

impl HashClass {
    /// The class of a stored hash; `None` for a format the hasher does not
    /// verify.
    pub(crate) fn of(hash: &str) -> Option<Self> {
        if hash.starts_with("$argon2") {
            let parsed = argon2::password_hash::phc::PasswordHash::new(hash).ok()?;
            let (algorithm, params) = parse_argon2(hash)?;
            let version = match parsed.version.map(Version::try_from) {
                None => Version::V0x13,
                Some(Ok(version)) => version,
                Some(Err(_)) => return None,
            };
            return Some(HashClass::Argon2 {
                algorithm,
                version,
                m_kib: params.m_cost(),
                t: params.t_cost(),
                p: params.p_cost(),
            });
        }
        // `$2a$`, `$2b$`, `$2x$`, `$2y$`, then a two-digit cost.
        let rest = hash.strip_prefix("$2")?;
        let (_variant, rest) = rest.split_once('$')?;
        let cost: u32 = rest.get(..2)?.parse().ok()?;
        (rest.as_bytes().get(2) == Some(&b'$') && (4..=31).contains(&cost))
            .then_some(HashClass::Bcrypt { cost })
    }

    /// A hash of this class of a random password: what a failed login for an
    /// unknown address is checked against. The thread keeps `keep` blocks of
    /// working memory afterwards.
    fn dummy(self, keep: usize) -> Result<PasswordHash> {
        let random = crate::tokens::random_token(24)?;
        match self {
            HashClass::Bcrypt { cost } => bcrypt::hash(random.as_bytes(), cost)
                .map(PasswordHash::new)
                .map_err(|e| Error::internal("bcrypt hashing", e)),
            HashClass::Argon2 {
                algorithm,
                version,
                m_kib,
                t,
                p,
            } => {
                let params = Params::new(m_kib, t, p, None)
                    .map_err(|e| Error::internal("stored argon2 parameters", e.to_string()))?;
                let blocks = params.block_count();
                let argon2 = Argon2::new(algorithm, version, params);
                let mut salt = [0u8; 16];
                getrandom::fill(&mut salt).map_err(|e| {
                    Error::internal("the operating system's random source", e.to_string())
                })?;
                let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
                with_blocks(blocks, keep, |memory| {
                    argon2.hash_password_into_with_memory(
                        random.as_bytes(),
                        &salt,
                        &mut output,
                        memory,
                    )
                })
                .map_err(|e| Error::internal("argon2 hashing", e.to_string()))?;
                Ok(PasswordHash::new(format!(
                    "${algorithm}$v={}$m={m_kib},t={t},p={p}${}${}",
                    u32::from(version),
                    STANDARD_NO_PAD.encode(salt),
                    STANDARD_NO_PAD.encode(output)
                )))
            }
        }
    }
}

/// A dummy hash of a class, and what one verification against it took.
#[derive(Debug, Clone)]
pub(crate) struct MeasuredDummy {
    pub(crate) hash: PasswordHash,
    pub(crate) verify_time: Duration,
}

/// How many verifications measure a class: the median is kept.
const SAMPLES: usize = 3;

impl PasswordHasher {
    /// A dummy hash of `class` and the median time of a verification against
    /// it on a hashing thread (queueing left out). These verifications are not
    /// counted in [`PasswordHasher::stats`]: no password is checked.
    pub(crate) async fn measure(&self, class: HashClass) -> Result<MeasuredDummy> {
        let cost = match class {
            HashClass::Argon2 { m_kib, .. } => m_kib,
            HashClass::Bcrypt { .. } => BCRYPT_COST_KIB,
        };
        let target = self.params();
        let keep = blocks_to_keep(target);
        let hash = self.run(cost, move || class.dummy(keep)).await?;
        let mut times = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let stored = hash.clone();
            let time = self
                .run(cost, move || {
                    let probe = crate::tokens::random_token(24)?;
                    let start = Instant::now();
                    verify_now(&probe, stored.as_str(), target);
                    Ok(start.elapsed())
                })
                .await?;
            times.push(time);
        }
        times.sort();
        Ok(MeasuredDummy {
            hash,
            verify_time: times[SAMPLES / 2],
        })
    }

    /// The class of the hashes this hasher makes.
    pub(crate) fn own_class(&self) -> HashClass {
        let params = self.params();
        HashClass::Argon2 {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            m_kib: params.m_kib,
            t: params.t,
            p: params.p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::Verified;
    use crate::user::Password;

    #[test]
    fn classes_are_read_from_stored_hashes() {
        assert_eq!(
            HashClass::of(
                "$argon2id$v=19$m=65536,t=3,p=4$c3Nzc3Nzc3Nzc3Nzc3Nzcw$aGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGg"
            ),
            Some(HashClass::Argon2 {
                algorithm: Algorithm::Argon2id,
                version: Version::V0x13,
                m_kib: 65536,
                t: 3,
                p: 4
            })
        );
        let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
        assert_eq!(HashClass::of(bcrypt), Some(HashClass::Bcrypt { cost: 12 }));
        for unknown in [
            "",
            "plain",
            "$2b$x$",
            "$2b$99$abc",
            "$argon2id$garbage",
            "$1$md5",
        ] {
            assert_eq!(HashClass::of(unknown), None, "{unknown}");
        }
    }

    #[tokio::test]
    async fn a_dummy_has_the_class_it_was_made_for_and_matches_no_password() {
        let hasher = crate::password::fast_test_hasher();
        for class in [
            HashClass::Bcrypt { cost: 4 },
            HashClass::Argon2 {
                algorithm: Algorithm::Argon2i,
                version: Version::V0x13,
                m_kib: 2048,
                t: 2,
                p: 2,
            },
            hasher.own_class(),
        ] {
            let measured = hasher.measure(class).await.unwrap();
            assert_eq!(HashClass::of(measured.hash.as_str()), Some(class));
            assert!(measured.verify_time > Duration::ZERO);
            assert_eq!(
                hasher
                    .verify(&Password::new("a guess"), &measured.hash)
                    .await
                    .unwrap(),
                Verified::No
            );
        }
        assert_eq!(
            hasher.stats().verifications,
            3,
            "only the three guesses count"
        );
    }
}
