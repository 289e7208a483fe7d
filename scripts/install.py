"""The appliance install: ``./dev install [--prefix P] [--root R] [--enable UNIT …]``
(or ``python3 scripts/install.py …`` from a source tree; standard library only).

Puts Curious Connect into a prefix (default ``/opt/curious-connect``):

* ``<prefix>/venv``: a virtual environment with the project and its dependencies (pinned to the
  versions of ``requirements.lock``; ``--find-links DIR --no-index`` installs from wheels offline);
  installed into another root, its scripts name their path on the target (the same Python must
  be there: ``--python``);
* ``<prefix>/README.md``, ``<prefix>/docs/`` (the units' documentation links), and
  ``<prefix>/share/examples/`` — the example settings as shipped, to tell an edited file from
  one left as installed;
* ``/etc/curious-connect/``: the example settings from ``configs/`` (``nats-hub.conf`` also as
  ``nats.conf``, which ``nats-server.service`` reads). A file already there is never
  overwritten when it was edited: the new example goes beside it as ``<name>.new``, and the
  install says so. A file still as the previous install left it is updated;
* ``/etc/systemd/system/``: the units of ``systemd/``, their paths rewritten to the prefix;
* a system user ``curious-connect`` (the units' ``User=``), when running as root on the real
  root and it does not exist yet.

Nothing is enabled or started unless asked: ``--enable control-plane --enable edge@eu-1``
runs ``systemctl enable`` for those units (``systemctl --root`` into another root). ``--root R``
installs into a directory tree instead of ``/`` (for images and tests): no user is created
there (the install says what it would do). Run again to upgrade: the venv is updated in place.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1]
DEFAULT_PREFIX = "/opt/curious-connect"
USER = "curious-connect"
#: Example settings installed under another name as well: the name the units read.
ALSO_AS = {"nats-hub.conf": "nats.conf"}
UNIT_NAME = re.compile(r"^[A-Za-z0-9:_.\\@-]+$")


def say(message: str) -> None:
    print(f"install: {message}", flush=True)


class Installer:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(args.root).resolve()
        self.prefix = args.prefix.rstrip("/") or "/"
        self.dest = self.root / self.prefix.lstrip("/")
        self.etc = self.root / "etc" / "curious-connect"
        self.units = self.root / "etc" / "systemd" / "system"
        self.on_real_root = self.root == Path("/")

    # -- the virtual environment ----------------------------------------------------------------------
    def venv(self) -> None:
        venv = self.dest / "venv"
        python = venv / "bin" / "python"
        if not python.exists():
            say(f"creating the virtual environment {venv}")
            run([self.args.python, "-m", "venv", str(venv)])
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if self.args.find_links:
            pip += ["--find-links", self.args.find_links]
        if self.args.no_index:
            pip.append("--no-index")
        say("installing Curious Connect and its dependencies (versions of requirements.lock)")
        # The lock constrains every version; only the product's own dependencies are installed (no dev tools).
        # The project is built from a copy, so that the source tree gets no build/ folder.
        build = self.dest / "share" / "build"
        shutil.rmtree(build, ignore_errors=True)
        shutil.copytree(SOURCE, build, ignore=shutil.ignore_patterns(
            ".git", ".venv", "var", "tests", "bench", "test-artifacts", "node_modules", "build", "*.egg-info",
            "__pycache__"))
        try:
            run([*pip, "--constraint", str(SOURCE / "requirements.lock"), str(build)])
        finally:
            shutil.rmtree(build, ignore_errors=True)
        if not self.on_real_root:
            self.relocate(venv)

    def relocate(self, venv: Path) -> None:
        """Installed into another root: the venv's scripts and settings name its path on the target."""
        target = self.prefix.rstrip("/") + "/venv"
        for path in [*(venv / "bin").iterdir(), venv / "pyvenv.cfg"]:
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if b"\0" in data[:1024] or str(venv).encode() not in data:
                continue  # a binary, or nothing to rewrite
            path.write_bytes(data.replace(str(venv).encode(), target.encode()))

    # -- files ---------------------------------------------------------------------------------------------
    def documents(self) -> None:
        self.dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SOURCE / "README.md", self.dest / "README.md")
        shutil.copytree(SOURCE / "docs", self.dest / "docs", dirs_exist_ok=True)

    def configs(self) -> list[str]:
        """Copy the example settings; the names of the files left alone because they were edited."""
        examples = self.dest / "share" / "examples"
        examples.mkdir(parents=True, exist_ok=True)
        self.etc.mkdir(parents=True, exist_ok=True)
        os.chmod(self.etc, 0o755)
        kept = []
        for src in sorted(SOURCE.glob("configs/*")):
            if src.suffix not in (".toml", ".conf") or not src.is_file():
                continue
            for name in (src.name, *([ALSO_AS[src.name]] if src.name in ALSO_AS else [])):
                target = self.etc / name
                shipped = examples / name  # what the previous install put there
                if not target.exists():
                    install_file(src, target)
                    say(f"wrote {target}")
                elif filecmp.cmp(src, target, shallow=False):
                    pass
                elif shipped.exists() and filecmp.cmp(shipped, target, shallow=False):
                    install_file(src, target)
                    say(f"updated {target} (it was as installed)")
                else:
                    install_file(src, target.with_name(name + ".new"))
                    kept.append(name)
                    say(f"kept {target}: it was edited; the new example is {target.with_name(name + '.new')}")
                install_file(src, shipped)
        return kept

    def systemd_units(self) -> None:
        self.units.mkdir(parents=True, exist_ok=True)
        for unit in sorted(SOURCE.glob("systemd/*.service")):
            text = unit.read_text().replace(DEFAULT_PREFIX, self.prefix.rstrip("/"))
            target = self.units / unit.name
            if target.exists() and target.read_text() != text:
                say(f"replaced {target} (local changes belong in a drop-in: systemctl edit {unit.stem})")
            target.write_text(text)
            os.chmod(target, 0o644)
        say(f"installed the systemd units into {self.units}")

    # -- the system ----------------------------------------------------------------------------------------
    def user(self) -> None:
        command = ["useradd", "--system", "--no-create-home", "--home-dir", "/var/lib/curious-connect",
                   "--shell", "/usr/sbin/nologin", "--user-group", USER]
        if not self.on_real_root or os.geteuid() != 0:
            why = "installing into another root" if not self.on_real_root else "not running as root"
            say(f"{why}: not creating the system user {USER!r}; on the target: {' '.join(command)}")
            return
        if subprocess.run(["getent", "passwd", USER], capture_output=True).returncode == 0:
            return
        run(command)
        say(f"created the system user {USER!r}")

    def systemctl(self) -> None:
        here = ["systemctl"] if self.on_real_root else ["systemctl", f"--root={self.root}"]
        booted = self.on_real_root and Path("/run/systemd/system").is_dir()
        if booted:
            run([*here, "daemon-reload"])
        for unit in self.args.enable:
            name = unit if unit.endswith(".service") else unit + ".service"
            run([*here, "enable", name])
            say(f"enabled {name}" + ("" if booted else " (starts at the next boot)"))
        if not self.args.enable:
            say("nothing enabled (--enable UNIT to enable one, e.g. --enable control-plane)")


def install_file(src: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    os.chmod(target, 0o644)


def run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True)
    except FileNotFoundError:
        raise SystemExit(f"install: {command[0]} not found") from None
    except subprocess.CalledProcessError as exc:
        raise SystemExit(f"install: {' '.join(command[:4])} … failed (exit {exc.returncode})") from None


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="./dev install", description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help=f"where the product goes (default {DEFAULT_PREFIX})")
    p.add_argument("--root", default="/", help="install into this directory tree instead of / (images, tests)")
    p.add_argument("--enable", action="append", default=[], metavar="UNIT",
                   help="systemctl enable this unit (repeatable: control-plane, edge@eu-1, nats-server, …)")
    p.add_argument("--python", default=sys.executable, help="the Python that creates the venv (3.11 or newer)")
    p.add_argument("--find-links", metavar="DIR", help="also look for wheels in DIR")
    p.add_argument("--no-index", action="store_true", help="only wheels from --find-links (offline)")
    p.add_argument("--skip-venv", action="store_true", help="leave the virtual environment as it is")
    args = p.parse_args(argv)
    if not args.prefix.startswith("/") or ".." in Path(args.prefix).parts:
        p.error(f"--prefix must be an absolute path, not {args.prefix!r}")
    for unit in args.enable:
        if not UNIT_NAME.match(unit) or not (SOURCE / "systemd" / re.sub(r"@[^.]+", "@", unit).replace(
                ".service", "")).with_suffix(".service").exists():
            p.error(f"--enable: no unit {unit!r} (units: "
                    f"{', '.join(u.stem for u in sorted(SOURCE.glob('systemd/*.service')))})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    installer = Installer(args)
    say(f"installing into {installer.dest} (configuration {installer.etc}, units {installer.units})")
    installer.documents()
    if not args.skip_venv:
        installer.venv()
    kept = installer.configs()
    installer.systemd_units()
    installer.user()
    installer.systemctl()
    say("done" + (f"; edited settings kept: {', '.join(kept)} (compare with the .new files)" if kept else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
