"""A real Apache Kafka broker in KRaft combined mode, from Maven Central jars, on Java 17."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ontask.operator.local import free_port

from .proc import ServerProcess, cache_dir, port_open

KAFKA_VERSION = "4.0.1"


def kafka_home() -> Path:
    home = cache_dir() / f"kafka-{KAFKA_VERSION}"
    if not (home / ".complete").exists():
        raise FileNotFoundError(f"{home} is missing: run `make servers` (scripts/servers/build.sh kafka) first")
    return home


def java_cmd(main_class: str, *args: str, heap: str = "512m") -> list[str]:
    """A java command line with Kafka's classpath; also runs Kafka's own CLI tools."""
    java = shutil.which("java") or "java"
    classpath = str(kafka_home() / "libs" / "*")
    return [java, f"-Xmx{heap}", "-XX:+UseSerialGC", "-cp", classpath, main_class, *args]


@dataclass
class SaslSsl:
    """A second listener that takes only TLS + SASL clients: PLAIN and SCRAM-SHA-256, with these
    users (SCRAM credentials are written when the storage is formatted).

    With `super_user` (one of `users`), the broker authorizes every request with ACLs (Kafka's
    StandardAuthorizer; a request no ACL allows is refused, so the plaintext listener's anonymous
    clients get nothing), and its own connections (to its controller, between brokers)
    authenticate as that user, the one super user."""

    users: dict[str, str] = field(default_factory=lambda: {"ontask": "ontask-secret"})
    port: int = field(default_factory=free_port)
    ca_file: Path | None = None  # set by the broker: the CA that signed its certificate
    super_user: str | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"


class KafkaBroker:
    """One broker + controller; restart() keeps its data and port (for reconnect tests). With
    `secure`, a SASL_SSL listener beside the plaintext one (its certificate from a throw-away CA)."""

    def __init__(self, workdir: Path, secure: SaslSsl | None = None):
        self.workdir = workdir
        self.port = free_port()
        self.controller_port = free_port()
        self.secure = secure
        self.proc: ServerProcess | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _secure_properties(self) -> list[str]:
        from .certs import CertAuthority

        assert self.secure is not None
        ca = CertAuthority(self.workdir / "pki")
        crt, key = ca.issue("broker", "kafka-broker", server=True)
        keystore = self.workdir / "pki" / "broker.pem"
        keystore.write_bytes(key.read_bytes() + crt.read_bytes())  # PKCS#8 key, then its certificate
        self.secure.ca_file = ca.cert_path
        plain_users = " ".join(f'user_{u}="{pw}"' for u, pw in self.secure.users.items())
        props = [
            "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256",
            "listener.name.sasl_ssl.plain.sasl.jaas.config="
            f"org.apache.kafka.common.security.plain.PlainLoginModule required {self._login()}{plain_users};",
            "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config="
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={keystore}",
        ]
        if self._authorizes:
            props += [
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                f"super.users=User:{self.secure.super_user}",
                "allow.everyone.if.no.acl.found=false",
                # The broker's own connections authenticate as the super user: to its controller
                # (SASL on that listener), and between brokers over TLS (trusting the throw-away CA).
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                "listener.name.controller.plain.sasl.jaas.config="
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'{self._login()}user_{self.secure.super_user}="{self.secure.users[self.secure.super_user]}";',
                "sasl.mechanism.inter.broker.protocol=PLAIN",
                "ssl.truststore.type=PEM",
                f"ssl.truststore.location={ca.cert_path}",
            ]
        return props

    @property
    def _authorizes(self) -> bool:
        return self.secure is not None and self.secure.super_user is not None

    def _login(self) -> str:
        """The JAAS options the broker logs in with as a client: the super user's, when it has one."""
        if not self._authorizes:
            return ""
        assert self.secure is not None and self.secure.super_user is not None
        return f'username="{self.secure.super_user}" password="{self.secure.users[self.secure.super_user]}" '

    def _configure(self) -> Path:
        data = self.workdir / "data"
        props = self.workdir / "server.properties"
        secure = f",SASL_SSL://127.0.0.1:{self.secure.port}" if self.secure else ""
        # With ACLs, the broker's own traffic authenticates (as the super user) like any client's.
        inter_broker, controller = ("SASL_SSL", "SASL_PLAINTEXT") if self._authorizes else ("PLAINTEXT", "PLAINTEXT")
        props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port}{secure},CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}{secure}",
                    "controller.listener.names=CONTROLLER",
                    f"listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,CONTROLLER:{controller}",
                    *(self._secure_properties() if self.secure else []),
                    f"inter.broker.listener.name={inter_broker}",
                    f"log.dirs={data}",
                    "num.partitions=1",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    "log.flush.interval.messages=1",
                    "",
                ]
            )
        )
        if not (data / "meta.properties").exists():
            cluster_id = (
                subprocess.run(
                    java_cmd("kafka.tools.StorageTool", "random-uuid", heap="128m"),
                    check=True,
                    capture_output=True,
                    text=True,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            subprocess.run(
                java_cmd(
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cluster_id,
                    "-c",
                    str(props),
                    "--ignore-formatted",
                    "--standalone",
                    *[
                        arg
                        for user, password in (self.secure.users.items() if self.secure else ())
                        for arg in ("--add-scram", f"SCRAM-SHA-256=[name={user},password={password}]")
                    ],
                    heap="128m",
                ),
                check=True,
                capture_output=True,
                text=True,
            )
        return props

    def start(self) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        props = self._configure()
        log4j = self.workdir / "log4j2.yaml"
        log4j.write_text(
            "Configuration:\n  Appenders:\n    Console: {name: STDOUT, PatternLayout: {pattern: '[%d] %p %m (%c)%n'}}\n"
            "  Loggers:\n    Root: {level: WARN, AppenderRef: [{ref: STDOUT}]}\n"
        )
        cmd = java_cmd("kafka.Kafka", str(props), heap="768m")
        cmd.insert(1, f"-Dlog4j2.configurationFile={log4j}")
        self.proc = ServerProcess("kafka", cmd, self.workdir).start()
        self.proc.wait_until(lambda: port_open(self.port), timeout=90, what="listening")
        return self.bootstrap

    def stop(self) -> None:
        if self.proc:
            self.proc.stop(timeout=30)

    def restart(self) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        self.start()
