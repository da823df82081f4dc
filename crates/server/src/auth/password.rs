//! Password hashing with Argon2id (the argon2 crate's recommended defaults).
//!
//! Argon2 needs ~19 MiB of working memory per hash. The crate allocates it
//! afresh on every call, and the allocator keeps freed blocks per thread
//! (measured: up to three blocks, ~57 MiB, per thread that ever hashed).
//! [`Memory`] lets a long-lived hashing thread own one block array and
//! reuse it, so a hashing thread costs one array, whatever it hashes. The
//! arithmetic is the crate's own (`hash_password_into_with_memory`); only
//! where the memory comes from differs.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Working memory kept between hashes: enough for the default parameters
/// (and for any stored hash up to this many KiB blocks; a larger one gets a
/// temporary array).
const KEEP_BLOCKS: usize = 64 * 1024;

/// Argon2 working memory owned by one hashing thread.
#[derive(Default)]
pub(crate) struct Memory {
    blocks: Vec<Block>,
}

impl Memory {
    /// Runs `f` with `count` zeroed blocks, reused when small enough.
    fn with_blocks<T>(&mut self, count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
        if count > KEEP_BLOCKS {
            let mut temporary = vec![Block::default(); count];
            return f(&mut temporary);
        }
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        let blocks = &mut self.blocks[..count];
        let result = f(blocks);
        // Leave nothing derived from the password behind.
        blocks.fill(Block::default());
        result
    }

    /// A PHC-format Argon2id hash of `password` with a fresh random salt.
    pub(crate) fn hash(&mut self, password: &str) -> Result<String, String> {
        let argon2 = Argon2::default();
        let params = argon2.params().clone();
        let salt = SaltString::generate(&mut OsRng);
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt
            .as_salt()
            .decode_b64(&mut salt_bytes)
            .map_err(|err| format!("hashing password: {err}"))?;
        let output_len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = self.with_blocks(params.block_count(), |blocks| {
            Output::init_with(output_len, |out| {
                argon2
                    .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, blocks)
                    .map_err(Into::into)
            })
        });
        let output = output.map_err(|err| format!("hashing password: {err}"))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)
                .map_err(|err| format!("hashing password: {err}"))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    }

    /// Whether `password` matches the stored PHC `hash`; a malformed hash
    /// never matches. The same check as the crate's `verify_password`: the
    /// hash's own algorithm, version, parameters and salt, outputs compared
    /// in constant time.
    pub(crate) fn verify(&mut self, password: &str, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from).transpose() {
            Ok(version) => version.unwrap_or_default(),
            Err(_) => return false,
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let mut salt_bytes = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params.clone());
        let computed = self.with_blocks(params.block_count(), |blocks| {
            Output::init_with(expected.len(), |out| {
                argon2
                    .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, blocks)
                    .map_err(Into::into)
            })
        });
        // `Output`'s equality is constant-time.
        computed.is_ok_and(|computed| computed == expected)
    }
}

/// A PHC-format Argon2id hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    Memory::default().hash(password)
}

/// Whether `password` matches the stored PHC `hash`; a malformed hash never matches.
pub fn verify_password(password: &str, hash: &str) -> bool {
    Memory::default().verify(password, hash)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn reused_memory_agrees_with_the_crate_both_ways() {
        let mut memory = Memory::default();
        // The crate's hashes (other parameters too) verify with reused memory ...
        for params in [
            Params::default(),
            Params::new(8 * 1024, 1, 2, None).unwrap(),
            Params::new(128 * 1024, 1, 1, Some(16)).unwrap(),
        ] {
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"pa55word", &SaltString::generate(&mut OsRng))
                .unwrap()
                .to_string();
            assert!(memory.verify("pa55word", &theirs), "{theirs}");
            assert!(!memory.verify("pa55wore", &theirs), "{theirs}");
        }
        // ... and the pool's hashes verify with the crate.
        let ours = memory.hash("pa55word").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"pa55word", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"other", &parsed)
            .is_err());
        // The kept array is the default size, zeroed after use.
        assert_eq!(memory.blocks.len(), Params::default().block_count());
        assert!(memory
            .blocks
            .iter()
            .all(|b| b.as_ref().iter().all(|w| *w == 0)));
    }
}
