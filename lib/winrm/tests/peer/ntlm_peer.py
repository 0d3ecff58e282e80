"""A minimal WinRM endpoint whose NTLM acceptor and sealing come from pyspnego.

It exists to prove that the Rust client authenticates and seals against an
implementation we did not write. It speaks just enough WS-Management for one
shell and one command: Create, Command, Receive (first a w:TimedOut fault,
then the output), Signal and Delete. Usage:

    NTLM_USER_FILE=users.txt python ntlm_peer.py [--tamper]

It prints the port it listens on (127.0.0.1) as the first stdout line.
With --tamper it flips one sealed byte in every reply after the handshake.
"""

import base64
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import spnego

BOUNDARY = b"--Encrypted Boundary\r\n"
PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
TAMPER = "--tamper" in sys.argv

ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
    'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
    "<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:00000000-0000-4000-8000-000000000001</a:MessageID>"
    "<a:RelatesTo>{relates}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
)
SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
TIMED_OUT = (
    "<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code>"
    "<s:Reason><s:Text>The WS-Management service cannot complete the operation within the time specified in OperationTimeout.</s:Text></s:Reason>"
    '<s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858793"/></s:Detail></s:Fault>'
)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Negotiate "):
            if not hasattr(self, "ctx"):
                self.ctx = spnego.server(protocol="ntlm")
                self.receives = 0
            try:
                out = self.ctx.step(base64.b64decode(auth[len("Negotiate "):]))
            except Exception:
                self.reply(401, headers=[("WWW-Authenticate", "Negotiate")])
                return
            if not self.ctx.complete:
                self.reply(401, headers=[("WWW-Authenticate", "Negotiate " + base64.b64encode(out).decode())])
                return
            self.reply(200)
            return
        if not getattr(self, "ctx", None) or not self.ctx.complete:
            self.reply(401, headers=[("WWW-Authenticate", "Negotiate")])
            return
        parts = body.split(BOUNDARY)
        payload = parts[2][len(b"\tContent-Type: application/octet-stream\r\n"):]
        payload = payload.rsplit(b"--Encrypted Boundary", 1)[0]
        sig_len = int.from_bytes(payload[:4], "little")
        soap = self.ctx.unwrap_winrm(payload[4:4 + sig_len], payload[4 + sig_len:]).decode()
        action = re.search(r"<a:Action[^>]*>([^<]+)</a:Action>", soap).group(1)
        message_id = re.search(r"<a:MessageID>([^<]+)</a:MessageID>", soap).group(1)
        status, answer = 200, ""
        if action.endswith("transfer/Create"):
            answer = ENVELOPE.format(action=action + "Response", relates=message_id, body=
                '<x:ResourceCreated><w:SelectorSet><w:Selector Name="ShellId">PEER-SHELL</w:Selector></w:SelectorSet></x:ResourceCreated>')
        elif action.endswith("/Command"):
            answer = ENVELOPE.format(action=action + "Response", relates=message_id, body=
                "<rsp:CommandResponse><rsp:CommandId>PEER-CMD</rsp:CommandId></rsp:CommandResponse>")
        elif action.endswith("/Receive"):
            self.receives += 1
            if self.receives == 1:
                status = 500
                answer = ENVELOPE.format(action="http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates=message_id, body=TIMED_OUT)
            else:
                out = base64.b64encode(b"sealed by pyspnego\r\n").decode()
                answer = ENVELOPE.format(action=action + "Response", relates=message_id, body=
                    f'<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="PEER-CMD">{out}</rsp:Stream>'
                    f'<rsp:CommandState CommandId="PEER-CMD" State="{SHELL}CommandState/Done"><rsp:ExitCode>7</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>')
        elif action.endswith("/Signal"):
            answer = ENVELOPE.format(action=action + "Response", relates=message_id, body="<rsp:SignalResponse/>")
        else:
            answer = ENVELOPE.format(action=action + "Response", relates=message_id, body="")
        plain = answer.encode()
        wrapped = self.ctx.wrap_winrm(plain)
        sealed = bytearray(wrapped.data)
        if TAMPER:
            sealed[0] ^= 1
        out = (
            BOUNDARY
            + b"\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
            + b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(plain)).encode() + b"\r\n"
            + BOUNDARY
            + b"\tContent-Type: application/octet-stream\r\n"
            + len(wrapped.header).to_bytes(4, "little") + wrapped.header + bytes(sealed)
            + b"--Encrypted Boundary--\r\n"
        )
        ctype = f'multipart/encrypted;protocol="{PROTOCOL}";boundary="Encrypted Boundary"'
        self.reply(status, out, [("Content-Type", ctype)])


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
