//! TLS session-ticket keys shared by every certificate configuration of the
//! process, kept in `state_dir` so tickets survive reloads and restarts, and
//! rotated so a leaked key exposes little. With a shared configuration
//! store (etcd) the keys live in the store instead, so every node resumes
//! the sessions of every other ([`TicketKeys::shared`]).
//!
//! Tickets are AES-256-GCM: `key id (4) | nonce (12) | ciphertext+tag`.
//! Two keys are live: the current one encrypts, the previous one still
//! decrypts, for one rotation period.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use rustls::server::ProducesTickets;

/// How long one key encrypts new tickets.
pub(super) const ROTATION: Duration = Duration::from_secs(12 * 3600);

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TicketKeyError {
    /// Reading or writing the key file failed.
    #[error("TLS ticket keys {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The system random generator failed.
    #[error("cannot generate a TLS ticket key")]
    Random,
    /// Keys given as text (from a configuration store) hold no valid key.
    #[error("TLS ticket keys from the configuration store hold no valid key")]
    Malformed,
}

#[derive(Clone)]
struct Key {
    id: u32,
    created: u64,
    secret: [u8; 32],
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .field("created", &self.created)
            .finish()
    }
}

impl Key {
    fn generate(now: u64) -> Result<Key, TicketKeyError> {
        let mut bytes = [0u8; 36];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TicketKeyError::Random)?;
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes[4..]);
        Ok(Key {
            id: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            created: now,
            secret,
        })
    }

    fn aead(&self) -> Option<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.secret)
            .ok()
            .map(LessSafeKey::new)
    }

    fn to_line(&self) -> String {
        format!(
            "{:08x} {} {}\n",
            self.id,
            self.created,
            crate::encoding::hex(&self.secret)
        )
    }

    fn from_line(line: &str) -> Option<Key> {
        let mut parts = line.split_whitespace();
        let id = u32::from_str_radix(parts.next()?, 16).ok()?;
        let created = parts.next()?.parse().ok()?;
        let hex = parts.next()?;
        if hex.len() != 64 {
            return None;
        }
        let mut secret = [0u8; 32];
        for (i, b) in secret.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Key {
            id,
            created,
            secret,
        })
    }
}

#[derive(Debug)]
struct Keys {
    current: Key,
    previous: Option<Key>,
}

impl Keys {
    fn to_text(&self) -> String {
        let mut t = self.current.to_line();
        if let Some(p) = &self.previous {
            t.push_str(&p.to_line());
        }
        t
    }

    fn from_text(text: &str) -> Option<Keys> {
        let mut lines = text.lines().filter_map(Key::from_line);
        let current = lines.next()?;
        Some(Keys {
            current,
            previous: lines.next(),
        })
    }
}

/// The process's ticket keys (a rustls [`ProducesTickets`]).
#[derive(Debug)]
pub struct TicketKeys {
    path: Option<PathBuf>,
    /// Kept in a configuration store shared by several nodes: the store
    /// rotates them, never this process on its own.
    shared: bool,
    keys: RwLock<Keys>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TicketKeys {
    /// Loads the keys from `dir/tls-ticket-keys`, creating or rotating them
    /// as needed (the file is 0600).
    pub fn load_or_create(dir: &Path) -> Result<TicketKeys, TicketKeyError> {
        let path = dir.join("tls-ticket-keys");
        let io = |source| TicketKeyError::Io {
            path: path.clone(),
            source,
        };
        let mut lines: Vec<Key> = match std::fs::read_to_string(&path) {
            Ok(text) => text.lines().filter_map(Key::from_line).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(e)),
        };
        let now = unix_now();
        let keys = match lines.len() {
            0 => Keys {
                current: Key::generate(now)?,
                previous: None,
            },
            _ => {
                let current = lines.remove(0);
                Keys {
                    current,
                    previous: lines.into_iter().next(),
                }
            }
        };
        let tickets = TicketKeys {
            path: Some(path),
            shared: false,
            keys: RwLock::new(keys),
        };
        tickets.rotate_if_due(now)?;
        tickets.save()?;
        Ok(tickets)
    }

    /// Keys held only in memory (tests, or no state_dir).
    pub fn ephemeral() -> Result<TicketKeys, TicketKeyError> {
        Ok(TicketKeys {
            path: None,
            shared: false,
            keys: RwLock::new(Keys {
                current: Key::generate(unix_now())?,
                previous: None,
            }),
        })
    }

    /// Keys kept in a configuration store for several nodes, from their
    /// text form ([`new_shared_text`](Self::new_shared_text)). They live in
    /// memory only; [`rotate_if_due`](Self::rotate_if_due) leaves them
    /// alone, and the store replaces them with
    /// [`set_shared`](Self::set_shared) when one node has rotated them.
    pub fn shared(text: &str) -> Result<TicketKeys, TicketKeyError> {
        Ok(TicketKeys {
            path: None,
            shared: true,
            keys: RwLock::new(Keys::from_text(text).ok_or(TicketKeyError::Malformed)?),
        })
    }

    /// Replaces the keys with `text` (the store's current keys). On error
    /// the keys in use stay.
    pub fn set_shared(&self, text: &str) -> Result<(), TicketKeyError> {
        let fresh = Keys::from_text(text).ok_or(TicketKeyError::Malformed)?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    /// The text form of a fresh key (what a store holds at first).
    pub fn new_shared_text(now: u64) -> Result<String, TicketKeyError> {
        Ok(Keys {
            current: Key::generate(now)?,
            previous: None,
        }
        .to_text())
    }

    /// The text form of `text` rotated (a new current key, the current one
    /// kept as the previous) when its current key is older than
    /// [`ROTATION`] at `now`; `None` when no rotation is due.
    pub fn rotated_shared_text(text: &str, now: u64) -> Result<Option<String>, TicketKeyError> {
        let keys = Keys::from_text(text).ok_or(TicketKeyError::Malformed)?;
        if now.saturating_sub(keys.current.created) < ROTATION.as_secs() {
            return Ok(None);
        }
        Ok(Some(
            Keys {
                current: Key::generate(now)?,
                previous: Some(keys.current),
            }
            .to_text(),
        ))
    }

    /// Starts a new key when the current one is older than [`ROTATION`].
    /// Shared keys ([`shared`](Self::shared)) are never rotated here.
    pub fn rotate_if_due(&self, now: u64) -> Result<bool, TicketKeyError> {
        if self.shared {
            return Ok(false);
        }
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if now.saturating_sub(keys.current.created) < ROTATION.as_secs() {
            return Ok(false);
        }
        let fresh = Key::generate(now)?;
        keys.previous = Some(std::mem::replace(&mut keys.current, fresh));
        drop(keys);
        self.save()?;
        Ok(true)
    }

    fn save(&self) -> Result<(), TicketKeyError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let io = |source| TicketKeyError::Io {
            path: path.clone(),
            source,
        };
        let text = self
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .to_text();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }
}

impl ProducesTickets for TicketKeys {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        ROTATION.as_secs() as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let keys = self.keys.read().ok()?;
        let key = keys.current.aead()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).ok()?;
        let mut out = Vec::with_capacity(4 + NONCE_LEN + plain.len() + AES_256_GCM.tag_len());
        out.extend_from_slice(&keys.current.id.to_be_bytes());
        out.extend_from_slice(&nonce);
        let mut body = plain.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&out[..4]),
            &mut body,
        )
        .ok()?;
        out.extend_from_slice(&body);
        Some(out)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        if cipher.len() < 4 + NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let id = u32::from_be_bytes([cipher[0], cipher[1], cipher[2], cipher[3]]);
        let keys = self.keys.read().ok()?;
        let key = [Some(&keys.current), keys.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == id)?
            .aead()?;
        let nonce = Nonce::try_assume_unique_for_key(&cipher[4..4 + NONCE_LEN]).ok()?;
        let mut body = cipher[4 + NONCE_LEN..].to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(&cipher[..4]), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_round_trip_and_tampering_fails() {
        let k = TicketKeys::ephemeral().unwrap();
        let t = k.encrypt(b"session state").unwrap();
        assert_eq!(k.decrypt(&t).unwrap(), b"session state");
        let mut bad = t.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(k.decrypt(&bad).is_none());
        assert!(k.decrypt(&t[..10]).is_none());
    }

    #[test]
    fn shared_keys_rotate_only_through_their_text() {
        let now = unix_now();
        let text = TicketKeys::new_shared_text(now).unwrap();
        let a = TicketKeys::shared(&text).unwrap();
        let b = TicketKeys::shared(&text).unwrap();
        let t = a.encrypt(b"s").unwrap();
        assert_eq!(
            b.decrypt(&t).unwrap(),
            b"s",
            "nodes with the same text agree"
        );
        let later = now + ROTATION.as_secs() + 1;
        assert!(!a.rotate_if_due(later).unwrap(), "never rotated locally");
        assert!(
            TicketKeys::rotated_shared_text(&text, now)
                .unwrap()
                .is_none()
        );
        let rotated = TicketKeys::rotated_shared_text(&text, later)
            .unwrap()
            .unwrap();
        b.set_shared(&rotated).unwrap();
        assert_eq!(
            b.decrypt(&t).unwrap(),
            b"s",
            "the previous key still decrypts"
        );
        assert_ne!(b.encrypt(b"x").unwrap()[..4], t[..4]);
        assert!(TicketKeys::shared("garbage").is_err());
        assert!(b.set_shared("").is_err());
        assert_eq!(
            b.decrypt(&t).unwrap(),
            b"s",
            "a refused text changes nothing"
        );
    }

    #[test]
    fn keys_persist_and_the_previous_key_still_decrypts_after_rotation() {
        let dir = std::env::temp_dir().join(format!("stgw-tickets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let a = TicketKeys::load_or_create(&dir).unwrap();
        let t = a.encrypt(b"x").unwrap();
        let b = TicketKeys::load_or_create(&dir).unwrap();
        assert_eq!(b.decrypt(&t).unwrap(), b"x", "a restart keeps the keys");
        assert!(
            b.rotate_if_due(unix_now() + ROTATION.as_secs() + 1)
                .unwrap()
        );
        assert_eq!(
            b.decrypt(&t).unwrap(),
            b"x",
            "the previous key still decrypts"
        );
        let t2 = b.encrypt(b"y").unwrap();
        assert_ne!(t2[..4], t[..4]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("tls-ticket-keys"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
