#!/usr/bin/env python3
"""An SMTP server on 127.0.0.1 for HogMail's end-to-end tests (aiosmtpd).

Stores every accepted message as DIR/<n>.eml with the envelope recipient in the
first line (`X-Envelope-To:`) and the envelope sender in the second (`X-Envelope-From:`), and misbehaves on purpose, by a fixed seed:

  --reject-550 SUBSTR   answer `550 5.1.1 user unknown` to RCPT of addresses containing SUBSTR
  --temp-fail RATE      answer `451 4.3.0 try again later` to this share of RCPTs
  --drop RATE           close the connection in the middle of DATA for this share of messages
  --seed N              the seed for the shares above
  --faults SPEC         per (address, attempt), decided by the seed and not by timing, so a
                        test is the same however its connections interleave:
                        `421=0.05,451=0.1,452=0.05,554=0.05,stall=0.05,drop=0.05,dropstored=0.05`
                        421: "service not available" and the connection closed (at RCPT)
                        451, 452: temporary failures (at RCPT); stall: no answer to RCPT for
                        --stall-seconds, then the connection closed; 554: rejected (after DATA);
                        drop: connection closed mid-DATA, nothing stored; dropstored: the message
                        is stored, then the connection closed before the reply (the only case in
                        which a correct sender may deliver twice). Each fault is logged to
                        DIR/faults.log as `fault address`.
  --stall-seconds S     how long a stall lasts (default 5)

The front door of a real provider, with a throwaway certificate authority made at start (its
certificate in DIR/ca.pem, for `transport.smtp.ca_file`; no private key is ever written to
stay: the server's is loaded and deleted, the CA's never leaves memory):

  --tls MODE            none (default): plain SMTP, no STARTTLS offered; starttls: STARTTLS
                        offered; starttls-required: offered and required before MAIL;
                        implicit: TLS from the first byte (smtps://, port 465)
  --cert-names NAMES    the names the server's certificate is for (default 127.0.0.1,localhost)
  --auth USER:PASSWORD  AUTH required (after TLS), with these credentials; each attempt is
                        logged to DIR/auth.log as `MECHANISM accepted|refused` (never the password)
  --auth-mechanisms M   the mechanisms offered (default PLAIN,LOGIN)

Prints `READY <port>` once it listens; runs until killed.
"""
import argparse
import asyncio
import datetime
import ipaddress
import itertools
import os
import random
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Handler:
    def __init__(self, folder, args):
        self.folder = folder
        self.args = args
        self.random = random.Random(args.seed)
        self.counter = itertools.count(1)
        self.faults = []
        total = 0.0
        for item in filter(None, args.faults.split(",")):
            name, share = item.split("=")
            total += float(share)
            self.faults.append((total, name))
        self.attempts = {}
        self.log = open(os.path.join(folder, "faults.log"), "a", buffering=1)

    def fault(self, address):
        """The fault for this attempt at this address: the same for the same seed, address and attempt."""
        if not self.faults:
            return None
        attempt = self.attempts.get(address, 0)
        draw = random.Random("%d:%s:%d" % (self.args.seed, address, attempt)).random()
        for limit, name in self.faults:
            if draw < limit:
                return name
        return None

    def record(self, name, address):
        self.log.write("%s %s\n" % (name, address))

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.args.reject_550 and self.args.reject_550 in address:
            return "550 5.1.1 <%s>: user unknown" % address
        if self.random.random() < self.args.temp_fail:
            return "451 4.3.0 try again later"
        fault = self.fault(address)
        if fault in ("421", "451", "452", "stall"):
            self.attempts[address] = self.attempts.get(address, 0) + 1
            self.record(fault, address)
            if fault == "421":
                asyncio.get_event_loop().call_later(0.05, server.transport.close)
                return "421 4.7.0 too busy, closing the connection"
            if fault == "451":
                return "451 4.3.0 try again later"
            if fault == "452":
                return "452 4.2.2 insufficient system storage"
            await asyncio.sleep(self.args.stall_seconds)
            server.transport.close()
            return "421 4.4.2 timed out"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        address = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        fault = self.fault(address)
        self.attempts[address] = self.attempts.get(address, 0) + 1
        if fault in ("554", "drop", "dropstored"):
            self.record(fault, address)
        if fault == "554":
            return "554 5.7.1 message rejected by policy"
        if fault == "drop" or self.random.random() < self.args.drop:
            server.transport.close()
            return "421 4.4.2 connection dropped"
        number = next(self.counter)
        path = os.path.join(self.folder, "%06d.eml" % number)
        with open(path + ".tmp", "wb") as out:
            out.write(("X-Envelope-To: %s\r\n" % ",".join(envelope.rcpt_tos)).encode())
            out.write(("X-Envelope-From: %s\r\n" % envelope.mail_from).encode())
            out.write(envelope.original_content)
        os.rename(path + ".tmp", path)
        if fault == "dropstored":
            server.transport.close()
            return "421 4.4.2 connection dropped"
        return "250 2.0.0 queued as %d" % number


def make_tls_context(folder, names):
    """A CA made now (DIR/ca.pem) and a server certificate it signs for `names`: what an internal
    relay with a private CA looks like. Uses `cryptography`, which the test venv installs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "HogMail test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    alternative = []
    for name in names:
        try:
            alternative.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternative.append(x509.DNSName(name))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                   .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName(alternative), critical=False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                   .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(os.path.join(folder, "ca.pem"), "wb") as out:
        out.write(ca.public_bytes(pem))
    chain = os.path.join(folder, "server.pem")
    with open(chain, "wb") as out:
        out.write(certificate.public_bytes(pem))
    # ssl loads a key only from a file: written private, loaded, deleted.
    key_path = os.path.join(folder, "server.key")
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(chain, key_path)
    finally:
        os.unlink(key_path)
    return context


class Authenticator:
    """Accepts one user and password; logs each attempt's mechanism and outcome, never the password."""

    def __init__(self, folder, user, password):
        self.user = user.encode()
        self.password = password.encode()
        self.log = open(os.path.join(folder, "auth.log"), "a", buffering=1)

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == self.user and auth_data.password == self.password
        self.log.write("%s %s\n" % (mechanism, "accepted" if ok else "refused"))
        # handled=False: aiosmtpd answers `535 5.7.8 Authentication credentials invalid` itself.
        return AuthResult(success=ok, handled=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject-550", default="")
    parser.add_argument("--temp-fail", type=float, default=0.0)
    parser.add_argument("--drop", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", default="")
    parser.add_argument("--stall-seconds", type=float, default=5.0)
    parser.add_argument("--tls", choices=["none", "starttls", "starttls-required", "implicit"], default="none")
    parser.add_argument("--cert-names", default="127.0.0.1,localhost")
    parser.add_argument("--auth", default="")
    parser.add_argument("--auth-mechanisms", default="PLAIN,LOGIN")
    args = parser.parse_args()
    os.makedirs(args.folder, exist_ok=True)
    port = args.port
    if port == 0:
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    options = {"data_size_limit": 10 * 1024 * 1024}
    implicit = None
    if args.tls != "none":
        context = make_tls_context(args.folder, args.cert_names.split(","))
        if args.tls == "implicit":
            implicit = context
            # The whole connection is TLS, which aiosmtpd's own STARTTLS check cannot see.
            options["auth_require_tls"] = False
        else:
            options["tls_context"] = context
            options["require_starttls"] = args.tls == "starttls-required"
    if args.auth:
        user, _, password = args.auth.partition(":")
        options["authenticator"] = Authenticator(args.folder, user, password)
        options["auth_required"] = True
        offered = set(args.auth_mechanisms.upper().split(","))
        options["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN") if m not in offered]
    controller = Controller(Handler(args.folder, args), hostname="127.0.0.1", port=port, ssl_context=implicit,
                            server_kwargs=options)
    controller.start()
    print("READY %d" % port, flush=True)
    try:
        asyncio.get_event_loop().run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
