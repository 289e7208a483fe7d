"""A real OpenLDAP ``slapd`` owned by one test: its own config, database and port.

The directory is ``dc=example,dc=org`` with people under ``ou=people`` and ``groupOfNames`` groups
under ``ou=groups`` (``admins``, ``hosts``, ``staff``). Entries are loaded offline with
``slapadd`` before the server starts, so the memberOf overlay is not used: groups are found by
``(&(objectClass=groupOfNames)(member=<user dn>))``.

With *tls* (a certificate from ``tests.support.tls``), slapd also offers StartTLS on its ``ldap://``
port and listens for ``ldaps://`` on a second port, and logs every operation (``-d stats``) so a
test can tell which requests reached it (e.g. that no bind was made).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from . import process
from .tls import CertFiles
from .util import free_port

SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "root-secret"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")


def slapd_available() -> bool:
    return all(shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin") for t in ("slapd", "slapadd", "slappasswd")) \
        and Path("/etc/ldap/schema/core.schema").exists()


def _tool(name: str) -> str:
    found = shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise RuntimeError(f"{name} not found (apt-get install slapd ldap-utils)")
    return found


@dataclass
class Person:
    uid: str
    password: str
    cn: str = ""
    mail: str = ""
    #: Relative to the suffix; ``ou=people`` by default.
    ou: str = "ou=people"

    @property
    def dn(self) -> str:
        return f"uid={_rdn_value(self.uid)},{self.ou},{SUFFIX}"


@dataclass
class Directory:
    """What the seed contains: people and ``group cn → member uids``."""

    people: list[Person] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    #: Extra organisational units (relative to the suffix) to create, e.g. "ou=contractors,ou=people".
    units: list[str] = field(default_factory=list)

    def person(self, uid: str) -> Person:
        return next(p for p in self.people if p.uid == uid)


def _rdn_value(value: str) -> str:
    """Escape a value for use in a DN (RFC 4514)."""
    out = []
    for i, ch in enumerate(value):
        if ch in ',+"\\<>;=' or (ch == "#" and i == 0) or (ch == " " and i in (0, len(value) - 1)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def group_dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


class Slapd:
    """One slapd process in *workdir*, on a free loopback port, seeded with *directory*."""

    def __init__(self, workdir: Path, directory: Directory, *, tls: CertFiles | None = None) -> None:
        self.workdir = Path(workdir)
        self.directory = directory
        self.tls = tls
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / "slapd.log"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        assert self.tls_port is not None, "slapd started without tls"
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _hash(self, password: str) -> str:
        run = subprocess.run([_tool("slappasswd"), "-s", password], capture_output=True, text=True, check=True)
        return run.stdout.strip()

    def _config(self) -> Path:
        data = self.workdir / "data"
        data.mkdir(parents=True, exist_ok=True)
        lines = [f"include /etc/ldap/schema/{s}.schema" for s in SCHEMAS]
        lines += [
            f"pidfile {self.workdir / 'slapd.pid'}",
            "modulepath /usr/lib/ldap",
            "moduleload back_mdb",
            "database mdb",
            f'suffix "{SUFFIX}"',
            f'rootdn "{ROOT_DN}"',
            f"rootpw {self._hash(ROOT_PW)}",
            f"directory {data}",
            "maxsize 10485760",
            "index objectClass eq",
            "index uid,member eq",
            # Users may read the directory and bind; passwords are only usable for binding.
            "access to attrs=userPassword by anonymous auth by self write by * none",
            "access to * by * read",
        ]
        if self.tls:
            lines[len(SCHEMAS):len(SCHEMAS)] = [f"TLSCertificateFile {self.tls.cert}",
                                                f"TLSCertificateKeyFile {self.tls.key}"]
        conf = self.workdir / "slapd.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def _seed(self) -> str:
        d = self.directory
        entries = [
            f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example",
            f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people",
            f"dn: {GROUPS}\nobjectClass: organizationalUnit\nou: groups",
        ]
        for unit in d.units:
            first = unit.split(",", 1)[0].split("=", 1)[1]
            entries.append(f"dn: {unit},{SUFFIX}\nobjectClass: organizationalUnit\nou: {first}")
        for p in d.people:
            cn = p.cn or p.uid
            lines = [f"dn: {p.dn}", "objectClass: inetOrgPerson", f"uid: {p.uid}", f"cn: {cn}",
                     f"sn: {cn.split()[-1]}", f"userPassword: {self._hash(p.password)}"]
            if p.mail:
                lines.append(f"mail: {p.mail}")
            entries.append("\n".join(lines))
        for cn, members in d.groups.items():
            dns = [d.person(uid).dn for uid in members] or [ROOT_DN]  # groupOfNames needs a member
            entries.append("\n".join([f"dn: {group_dn(cn)}", "objectClass: groupOfNames", f"cn: {cn}"]
                                     + [f"member: {dn}" for dn in dns]))
        return "\n\n".join(entries) + "\n"

    def start(self, timeout: float = 5.0) -> Slapd:
        conf = self._config()
        ldif = self.workdir / "seed.ldif"
        ldif.write_text(self._seed())
        subprocess.run([_tool("slapadd"), "-q", "-f", str(conf), "-l", str(ldif)], check=True,
                       capture_output=True)
        urls = f"{self.url} {self.ldaps_url}" if self.tls else self.url
        self.proc = process.spawn([_tool("slapd"), "-f", str(conf), "-h", urls, "-d", "stats" if self.tls else "0"],
                                  self.log_path)
        process.wait_until_up(self.proc, "slapd", self.log_path,
                              lambda: process.port_open(self.port) and (not self.tls_port or
                                                                        process.port_open(self.tls_port)), timeout)
        return self

    def stop(self) -> None:
        process.stop(self.proc)

    # -- changes made by the directory's administrator during a test -------------------------------
    def admin_connection(self):  # noqa: ANN201 - an ldap3 Connection
        import ldap3

        return ldap3.Connection(ldap3.Server(self.url, get_info=ldap3.NONE), user=ROOT_DN, password=ROOT_PW,
                                auto_bind=True, receive_timeout=5)

    def set_members(self, group: str, uids: list[str]) -> None:
        import ldap3

        dns = [self.directory.person(uid).dn for uid in uids] or [ROOT_DN]
        with self.admin_connection() as conn:
            ok = conn.modify(group_dn(group), {"member": [(ldap3.MODIFY_REPLACE, dns)]})
            if not ok:
                raise RuntimeError(f"modify {group} failed: {conn.result}")
