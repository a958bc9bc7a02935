//! Builds the web console (`web/`, Vue + Vite) into `$OUT_DIR/console` when
//! the `console` feature is on, so the binary embeds it and `vpp serve`
//! needs nothing beside it. `npm install` runs when `node_modules` is
//! missing or older than the lockfile, and installs exactly the versions in
//! the committed `package-lock.json` (whose content and time it leaves
//! unchanged, so a second `cargo build` reruns nothing). Not `npm
//! ci`: the registry these machines reach has no other platforms' optional
//! native packages (rollup's), which `npm ci` insists on finding in the
//! lockfile. `npm run build` runs when the sources changed (cargo reruns this
//! script only then).

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    if std::env::var_os("CARGO_FEATURE_CONSOLE").is_none() {
        return;
    }
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    for entry in ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json"] {
        println!("cargo:rerun-if-changed={}", web.join(entry).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("console");
    let lock = web.join("package-lock.json");
    let installed = web.join("node_modules/.package-lock.json");
    if !fresh(&installed, &lock) {
        // npm rewrites the lockfile even when nothing in it changes; its new
        // time would make cargo rerun this script (and rebuild vpp-server)
        // on the next build. Same content, so the old time goes back.
        let before = std::fs::read(&lock).ok();
        let modified = std::fs::metadata(&lock).and_then(|m| m.modified()).ok();
        npm(&web, &["install", "--no-audit", "--no-fund"], &out);
        if let (Some(before), Some(modified)) = (before, modified)
            && std::fs::read(&lock).ok().as_deref() == Some(&before[..])
        {
            let restored = std::fs::File::options().write(true).open(&lock).and_then(|f| f.set_modified(modified));
            if let Err(e) = restored {
                println!("cargo:warning=could not restore the time of {}: {e}", lock.display());
            }
        }
    }
    npm(&web, &["run", "build"], &out);
}

/// True if `made` exists and is not older than `source`.
fn fresh(made: &Path, source: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((modified(made), modified(source)), (Some(a), Some(b)) if a >= b)
}

fn npm(web: &Path, args: &[&str], out: &Path) {
    let status = Command::new("npm").args(args).current_dir(web).env("VPP_CONSOLE_OUT", out).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`npm {}` in {} failed ({s}); fix the console build, or build without it: --no-default-features",
            args.join(" "),
            web.display()
        ),
        Err(e) => panic!(
            "the web console needs Node.js and npm ({e}); install them, or build without the console: --no-default-features"
        ),
    }
}
