//! Where the account's private key comes from (docs/node.md, "Keys").
//!
//! One of, and never more than one:
//! 1. `--keystore <file>`: an encrypted JSON keystore (Web3 Secret Storage v3, what geth and
//!    Foundry's `cast wallet` write), its password from `--password-file <file>` or asked on the
//!    terminal without echo;
//! 2. the environment variable `ZKOPML_PRIVATE_KEY` (hex);
//! 3. `--key <hex>`: devnet only, since every local user sees a process's arguments and the
//!    shell keeps them in its history.
//!
//! With none, each chain verb acts as its anvil devnet account (`zkopml_node::devnet::KEYS`).

use std::path::{Path, PathBuf};

use alloy::signers::local::{LocalSignerError, PrivateKeySigner};
use anyhow::{anyhow, bail, Context, Result};
use zkopml_node::devnet::{self, KEYS};

/// The environment variable that holds a hex private key.
pub const ENV_KEY: &str = "ZKOPML_PRIVATE_KEY";

/// The key options as given, resolved only when a verb needs the account (so a verb that signs
/// nothing never asks for a password).
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    pub keystore: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub key: Option<String>,
}

/// A resolved account key and where it came from (for messages; never the key itself).
pub struct Resolved {
    pub signer: PrivateKeySigner,
    pub from: String,
}

impl KeySource {
    /// The key given by the options or the environment, or `None` when none is given.
    pub fn resolve(&self) -> Result<Option<Resolved>> {
        let env = match std::env::var_os(ENV_KEY) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) => Some(v.into_string().map_err(|_| {
                anyhow!("{ENV_KEY} is not valid UTF-8 (expected a hex private key)")
            })?),
        };
        let mut given = Vec::new();
        if self.keystore.is_some() {
            given.push("--keystore");
        }
        if env.is_some() {
            given.push(ENV_KEY);
        }
        if self.key.is_some() {
            given.push("--key");
        }
        if given.len() > 1 {
            bail!(
                "the key is given twice ({}): give exactly one of --keystore, {ENV_KEY} or --key",
                given.join(" and ")
            );
        }
        if self.password_file.is_some() && self.keystore.is_none() {
            bail!("--password-file is the password of a --keystore, and no --keystore is given");
        }
        if let Some(path) = &self.keystore {
            let password = match &self.password_file {
                Some(f) => read_password_file(f)?,
                None => prompt_password(path)?,
            };
            let signer = decrypt_keystore(path, &password)?;
            return Ok(Some(Resolved {
                signer,
                from: format!("the keystore {}", path.display()),
            }));
        }
        if let Some(k) = env {
            let signer =
                parse_hex_key(&k).with_context(|| format!("{ENV_KEY} is not a private key"))?;
            return Ok(Some(Resolved {
                signer,
                from: ENV_KEY.to_string(),
            }));
        }
        if let Some(k) = &self.key {
            let signer = parse_hex_key(k).context("--key is not a private key")?;
            return Ok(Some(Resolved {
                signer,
                from: "--key (devnet only)".to_string(),
            }));
        }
        Ok(None)
    }

    /// The hex private key to act with: the one given, else the devnet account `default`.
    pub fn hex_or_devnet(&self, default: usize) -> Result<String> {
        Ok(match self.resolve()? {
            Some(r) => r.signer.to_bytes().to_string(),
            None => KEYS[default].to_string(),
        })
    }
}

/// A 32-byte hex key, with or without `0x`. The error repeats no part of the key (the parser's
/// own error would name a character of it).
fn parse_hex_key(s: &str) -> Result<PrivateKeySigner> {
    let s = s.trim();
    s.parse::<PrivateKeySigner>().map_err(|_| {
        let digits = s.strip_prefix("0x").unwrap_or(s);
        anyhow!(
            "expected 64 hex digits, optionally 0x-prefixed (got {} characters{})",
            digits.len(),
            if digits.chars().all(|c| c.is_ascii_hexdigit()) {
                ""
            } else {
                ", not all hex digits"
            }
        )
    })
}

/// The first line of the file (as geth's `--password` reads it); an empty file is an empty password.
fn read_password_file(f: &Path) -> Result<String> {
    let text = std::fs::read_to_string(f)
        .with_context(|| format!("cannot read the password file {}", f.display()))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// Asks on the terminal, without echo.
fn prompt_password(keystore: &Path) -> Result<String> {
    rpassword::prompt_password(format!("password of the keystore {}: ", keystore.display())).map_err(|e| {
        anyhow!(
            "cannot ask for the password of the keystore {} ({e}): give --password-file <file> when there is no terminal",
            keystore.display()
        )
    })
}

/// Decrypts a keystore, naming what is wrong: an unreadable file, a file that is not a keystore,
/// a wrong password.
pub fn decrypt_keystore(path: &Path, password: &str) -> Result<PrivateKeySigner> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the keystore {shown}"))?;
    let malformed = |why: String| {
        anyhow!("{shown} is not an encrypted JSON keystore (Web3 Secret Storage v3, as geth and `cast wallet` write): {why}")
    };
    check_kdf(&text).map_err(malformed)?;
    match PrivateKeySigner::decrypt_keystore(path, password) {
        Ok(s) => Ok(s),
        Err(LocalSignerError::EthKeystoreError(eth_keystore::KeystoreError::MacMismatch)) => {
            bail!("wrong password for the keystore {shown} (its MAC does not match)")
        }
        Err(LocalSignerError::EthKeystoreError(eth_keystore::KeystoreError::StdIo(e))) => {
            bail!("cannot read the keystore {shown}: {e}")
        }
        Err(LocalSignerError::EcdsaError(_)) => {
            Err(malformed("it does not hold a secp256k1 private key".into()))
        }
        Err(e) => Err(malformed(e.to_string())),
    }
}

/// Checks the parameters the decryption relies on, which the keystore library does not check
/// itself (a short derived key makes it panic, a huge scrypt cost exhausts memory).
fn check_kdf(text: &str) -> std::result::Result<(), String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let crypto = v
        .get("crypto")
        .or_else(|| v.get("Crypto"))
        .ok_or("no \"crypto\" object")?;
    let p = crypto.get("kdfparams").ok_or("no \"crypto.kdfparams\"")?;
    let num = |k: &str| p.get(k).and_then(|x| x.as_u64());
    if let Some(d) = num("dklen") {
        if d != 32 {
            return Err(format!("kdfparams.dklen is {d}, expected 32"));
        }
    }
    if let (Some(n), Some(r)) = (num("n"), num("r")) {
        if !n.is_power_of_two() {
            return Err(format!("scrypt n = {n} is not a power of two"));
        }
        // scrypt needs 128 * r * n bytes; geth's strongest preset is 256 MiB.
        if (128u128 * r as u128 * n as u128) > (4u128 << 30) {
            return Err(format!(
                "scrypt n = {n}, r = {r} would need more than 4 GiB of memory"
            ));
        }
    }
    Ok(())
}

/// `zkopml account`: the address the chain verbs act as, and where its key comes from.
pub fn account(src: &KeySource) -> Result<()> {
    match src.resolve()? {
        Some(r) => println!("{} (from {})", r.signer.address(), r.from),
        None => {
            let addr = |i: usize| zkopml_node::devnet_address(KEYS[i]).map(|a| a.to_string());
            println!("no key given (--keystore, {ENV_KEY} or --key): each chain verb acts as its anvil devnet account:");
            println!(
                "  deploy, register, status           #{} {}",
                devnet::DEPLOYER,
                addr(devnet::DEPLOYER)?
            );
            println!(
                "  request                            #{} {}",
                devnet::REQUESTER,
                addr(devnet::REQUESTER)?
            );
            println!(
                "  submit                             #{} {}",
                devnet::SUBMITTER,
                addr(devnet::SUBMITTER)?
            );
            println!(
                "  challenge, ceremony contribute     #{} {}",
                devnet::CHALLENGER,
                addr(devnet::CHALLENGER)?
            );
        }
    }
    Ok(())
}
