//! Build script: on Windows targets, embed `assets/sockscope.ico` and version details in
//! `sockscope.exe` as resources, so Explorer and the task bar show the app icon.
//!
//! With the GNU toolchain (mingw, including cross builds from Linux) the resource script
//! is compiled by `windres` (`x86_64-w64-mingw32-windres`, or `$WINDRES`); with MSVC by
//! `rc.exe` (or `$RC`) from the Windows SDK. The object is linked into the binaries
//! only. Without the tool the build still succeeds, with a warning and no icon in the
//! file (the window sets its own icon at run time). Other targets: nothing happens.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=assets/sockscope.ico");
    println!("cargo:rerun-if-env-changed=WINDRES");
    println!("cargo:rerun-if-env-changed=RC");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("windows") {
        return;
    }
    let (Some(out_dir), Some(manifest_dir)) =
        (env::var_os("OUT_DIR"), env::var_os("CARGO_MANIFEST_DIR"))
    else {
        println!("cargo:warning=no OUT_DIR: sockscope.exe is built without its icon");
        return;
    };
    let out_dir = PathBuf::from(out_dir);
    let icon = Path::new(&manifest_dir)
        .join("assets")
        .join("sockscope.ico");
    let rc = out_dir.join("sockscope.rc");
    if let Err(e) = std::fs::write(&rc, resource_script(&icon)) {
        println!("cargo:warning=cannot write {}: {e}", rc.display());
        return;
    }
    let result = if env::var("CARGO_CFG_TARGET_ENV").as_deref() == Ok("msvc") {
        compile_msvc(&rc, &out_dir)
    } else {
        compile_gnu(&rc, &out_dir)
    };
    match result {
        Ok(object) => println!("cargo:rustc-link-arg-bins={}", object.display()),
        Err(why) => println!("cargo:warning=sockscope.exe is built without its icon: {why}"),
    }
}

/// The icon (id 1, the one Explorer shows) and the version block.
fn resource_script(icon: &Path) -> String {
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| "0.0.0".into());
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u16>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    let icon = icon.display().to_string().replace('\\', "/");
    format!(
        r#"1 ICON "{icon}"

1 VERSIONINFO
FILEVERSION {major},{minor},{patch},0
PRODUCTVERSION {major},{minor},{patch},0
BEGIN
  BLOCK "StringFileInfo"
  BEGIN
    BLOCK "040904B0"
    BEGIN
      VALUE "CompanyName", "Sockscope"
      VALUE "FileDescription", "Sockscope network debugging assistant"
      VALUE "FileVersion", "{version}"
      VALUE "InternalName", "sockscope"
      VALUE "OriginalFilename", "sockscope.exe"
      VALUE "ProductName", "Sockscope"
      VALUE "ProductVersion", "{version}"
    END
  END
  BLOCK "VarFileInfo"
  BEGIN
    VALUE "Translation", 0x0409, 1200
  END
END
"#
    )
}

/// mingw: `windres` writes a COFF object the GNU linker takes like any other.
fn compile_gnu(rc: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let object = out_dir.join("sockscope-res.o");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    let mut tools: Vec<String> = env::var("WINDRES").into_iter().collect();
    tools.push(format!("{arch}-w64-mingw32-windres"));
    tools.push("windres".into());
    run_first(&tools, |tool| {
        let mut cmd = Command::new(tool);
        cmd.arg("--input")
            .arg(rc)
            .arg("--output")
            .arg(&object)
            .arg("--output-format=coff");
        cmd
    })?;
    Ok(object)
}

/// MSVC: `rc.exe` writes a `.res` file, which `link.exe` takes as an input.
fn compile_msvc(rc: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let res = out_dir.join("sockscope.res");
    let mut tools: Vec<String> = env::var("RC").into_iter().collect();
    tools.push("rc.exe".into());
    tools.push("llvm-rc".into());
    run_first(&tools, |tool| {
        let mut cmd = Command::new(tool);
        cmd.arg("/nologo").arg("/fo").arg(&res).arg(rc);
        cmd
    })?;
    Ok(res)
}

/// Runs the first tool that exists; its failure (or every tool missing) is an error.
fn run_first(tools: &[String], command: impl Fn(&str) -> Command) -> Result<(), String> {
    for tool in tools {
        match command(tool).output() {
            Ok(output) if output.status.success() => return Ok(()),
            Ok(output) => {
                return Err(format!(
                    "{tool} failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot run {tool}: {e}")),
        }
    }
    Err(format!("none of {} found", tools.join(", ")))
}
