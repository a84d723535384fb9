//! Runs the Python interop and real-browser suite (`tests/interop`, pytest) against this build's
//! `kassa` binary, so `cargo test` covers it too.
//!
//! The Python side needs an interpreter with `tests/interop/requirements.txt` installed:
//! `$KASSA_PYTHON`, else `<repo>/.venv/bin/python`. Without one the test prints a note and
//! passes, unless `KASSA_REQUIRE_INTEROP=1` (as in CI), which also makes the browser tests fail
//! instead of skipping when Chromium or chromedriver is missing. `KASSA_TEST_POSTGRES_URL` is
//! passed through: with it, every Python test also runs on a fresh PostgreSQL database.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The suite takes about four minutes on two cores; this only stops a hung run.
const SUITE_TIMEOUT: Duration = Duration::from_secs(1800);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn require_interop() -> bool {
    std::env::var("KASSA_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// The interpreter to use, or why there is none.
fn find_python(root: &Path) -> Result<PathBuf, String> {
    let (python, from) = match std::env::var_os("KASSA_PYTHON").filter(|v| !v.is_empty()) {
        Some(p) => (PathBuf::from(p), "$KASSA_PYTHON"),
        None => (root.join(".venv/bin/python"), "the project venv"),
    };
    if !python.exists() {
        return Err(format!(
            "no Python interpreter at {} ({from})",
            python.display()
        ));
    }
    let probe = Command::new(&python)
        .args([
            "-c",
            "import pytest, xdist, selenium, standardwebhooks, paymentwall, paymobz, paymob.accept, schemathesis, openapi_python_client, pyotp",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !probe.status.success() {
        return Err(format!(
            "{} ({from}) lacks the test requirements: {}",
            python.display(),
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    Ok(python)
}

#[test]
fn python_interop_and_browser_suite() {
    let root = repo_root();
    let python = match find_python(&root) {
        Ok(p) => p,
        Err(why) => {
            let setup =
                "python3 -m venv .venv && .venv/bin/pip install -r tests/interop/requirements.txt";
            if require_interop() {
                panic!("KASSA_REQUIRE_INTEROP=1 but {why}; set it up with `{setup}` or set KASSA_PYTHON");
            }
            eprintln!(
                "skipping the Python interop and browser suite: {why} (set it up with `{setup}`)"
            );
            return;
        }
    };

    // Every test starts its own servers and browser, so tests run side by side on separate
    // workers (pytest-xdist): one per core unless KASSA_PYTEST_WORKERS says otherwise ("0" runs
    // them in this process, one after another).
    let workers = std::env::var("KASSA_PYTEST_WORKERS")
        .ok()
        .filter(|w| !w.trim().is_empty())
        .unwrap_or_else(|| "auto".to_string());
    let mut cmd = Command::new(&python);
    cmd.args([
        "-m",
        "pytest",
        "-q",
        "tests/interop",
        "-p",
        "no:cacheprovider",
        "-n",
        workers.trim(),
    ])
    .current_dir(&root)
    .env("KASSA_BIN", env!("CARGO_BIN_EXE_kassa"))
    .env("PYTHONDONTWRITEBYTECODE", "1")
    .env("PYTHONUNBUFFERED", "1")
    .stdin(Stdio::null());
    if require_interop() {
        cmd.env("KASSA_REQUIRE_BROWSER", "1");
    }
    eprintln!(
        "running {} -m pytest -q tests/interop -n {}",
        python.display(),
        workers.trim()
    );
    let started = Instant::now();
    // Output goes straight to this process's stdout and stderr, so it streams as it happens.
    let mut child = cmd.spawn().expect("starting pytest");
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for pytest") {
            break status;
        }
        if started.elapsed() > SUITE_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the Python suite did not finish within {SUITE_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "the Python suite took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        status.success(),
        "the Python interop suite failed: {status}"
    );
}
