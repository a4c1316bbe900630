//! anvil as a child process (tests, the demo) or a background process (`zkopml devnet up`),
//! and anvil's default accounts.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use zkopml_chain::Chain;

/// The private keys of anvil's first accounts (mnemonic "test test … junk"): public, devnet only.
pub const KEYS: [&str; 7] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
];

/// Default account of each role on the devnet.
pub const DEPLOYER: usize = 0;
pub const REQUESTER: usize = 1;
pub const SUBMITTER: usize = 2;
pub const CHALLENGER: usize = 3;

/// The repository root: the nearest ancestor of the current directory or of the executable
/// holding `scripts/install-tools.sh`.
pub fn repo_root() -> Option<PathBuf> {
    let starts = [std::env::current_dir().ok(), std::env::current_exe().ok()];
    for s in starts.into_iter().flatten() {
        for a in s.ancestors() {
            if a.join("scripts/install-tools.sh").exists() {
                return Some(a.to_path_buf());
            }
        }
    }
    None
}

/// `$ZKOPML_ANVIL`, or `<repo>/.tools/bin/anvil`.
pub fn anvil_path() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("ZKOPML_ANVIL") {
        let p = PathBuf::from(p);
        if !p.exists() {
            bail!("ZKOPML_ANVIL={} does not exist", p.display());
        }
        return Ok(p);
    }
    let root = repo_root().context("cannot find the zkopml repository (scripts/install-tools.sh) above the current directory or the executable; set ZKOPML_ANVIL")?;
    Ok(root.join(".tools/bin/anvil"))
}

/// Installs Foundry into `.tools` (scripts/install-tools.sh) if anvil is missing.
pub fn ensure_anvil() -> Result<PathBuf> {
    let p = anvil_path()?;
    if p.exists() {
        return Ok(p);
    }
    let root = repo_root().context("no repository to install the tools into")?;
    eprintln!(
        "anvil not found at {}: running scripts/install-tools.sh",
        p.display()
    );
    let st = Command::new("bash")
        .arg("scripts/install-tools.sh")
        .current_dir(&root)
        .status()
        .context("running scripts/install-tools.sh")?;
    if !st.success() || !p.exists() {
        bail!(
            "scripts/install-tools.sh did not install anvil at {}",
            p.display()
        );
    }
    Ok(p)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(8545)
}

fn wait_port(port: u16, what: &str) -> Result<()> {
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t0.elapsed() > Duration::from_secs(30) {
            bail!("{what} did not start listening on 127.0.0.1:{port}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Ok(())
}

fn anvil_command(port: u16, state: Option<&Path>) -> Result<Command> {
    let mut cmd = Command::new(ensure_anvil()?);
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--silent",
    ]);
    if let Some(s) = state {
        cmd.arg("--state").arg(s);
    }
    Ok(cmd)
}

/// anvil as a child process, killed when dropped.
pub struct Anvil {
    pub port: u16,
    child: Option<Child>,
}

impl Anvil {
    /// Starts anvil on `port` (a free one if `None`).
    pub fn start(port: Option<u16>) -> Result<Anvil> {
        let port = port.unwrap_or_else(free_port);
        let mut cmd = anvil_command(port, None)?;
        cmd.stdout(Stdio::null()).stderr(Stdio::inherit());
        let child = cmd.spawn().context("starting anvil")?;
        let a = Anvil {
            port,
            child: Some(child),
        };
        wait_port(port, "anvil")?;
        Ok(a)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A background anvil started by `zkopml devnet up` (`<dir>/devnet.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Devnet {
    pub url: String,
    pub port: u16,
    pub pid: u32,
    pub state: PathBuf,
    pub log: PathBuf,
}

impl Devnet {
    pub fn file(dir: &Path) -> PathBuf {
        dir.join("devnet.json")
    }

    pub fn load(dir: &Path) -> Result<Option<Devnet>> {
        let f = Self::file(dir);
        if !f.exists() {
            return Ok(None);
        }
        Ok(Some(
            serde_json::from_slice(&std::fs::read(&f)?)
                .with_context(|| format!("parsing {}", f.display()))?,
        ))
    }

    pub fn alive(&self) -> bool {
        Path::new(&format!("/proc/{}", self.pid)).exists()
            && TcpStream::connect(("127.0.0.1", self.port)).is_ok()
    }
}

/// Starts anvil in the background (its chain is dumped to `<dir>/anvil-state.json` on `down`
/// and loaded again by the next `up`). Returns the running devnet if one is up already.
pub fn up(dir: &Path, port: u16) -> Result<Devnet> {
    std::fs::create_dir_all(dir)?;
    if let Some(d) = Devnet::load(dir)? {
        if d.alive() {
            return Ok(d);
        }
    }
    if TcpStream::connect(("127.0.0.1", port)).is_ok() {
        bail!("port {port} on 127.0.0.1 is in use by another process (choose another with --port)");
    }
    let state = dir.join("anvil-state.json");
    let log = dir.join("anvil.log");
    let mut cmd = anvil_command(port, Some(&state))?;
    let out = std::fs::File::create(&log)?;
    cmd.stdout(out.try_clone()?)
        .stderr(out)
        .stdin(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn().context("starting anvil")?;
    let d = Devnet {
        url: format!("http://127.0.0.1:{port}"),
        port,
        pid: child.id(),
        state,
        log,
    };
    wait_port(port, "anvil")?;
    crate::artifacts::write_atomic(&Devnet::file(dir), &serde_json::to_vec_pretty(&d)?)?;
    Ok(d)
}

/// Stops the background anvil (SIGINT: it saves its state) and forgets it.
pub fn down(dir: &Path) -> Result<Option<Devnet>> {
    let Some(d) = Devnet::load(dir)? else {
        return Ok(None);
    };
    if Path::new(&format!("/proc/{}", d.pid)).exists() {
        let _ = Command::new("kill")
            .args(["-INT", &d.pid.to_string()])
            .status();
        let t0 = Instant::now();
        while Path::new(&format!("/proc/{}", d.pid)).exists()
            && t0.elapsed() < Duration::from_secs(10)
        {
            // a zombie (our own child in tests) counts as gone
            if std::fs::read_to_string(format!("/proc/{}/stat", d.pid))
                .is_ok_and(|s| s.contains(") Z "))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    std::fs::remove_file(Devnet::file(dir))?;
    Ok(Some(d))
}

/// `evm_increaseTime` + `evm_mine` (anvil only).
pub async fn increase_time(chain: &Chain, secs: u64) -> Result<()> {
    use alloy::providers::Provider;
    let p = chain.provider();
    let _: serde_json::Value = p.raw_request("evm_increaseTime".into(), (secs,)).await?;
    let _: serde_json::Value = p.raw_request("evm_mine".into(), ()).await?;
    Ok(())
}
