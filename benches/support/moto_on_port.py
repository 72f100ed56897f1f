"""Starts the moto AWS emulator on a loopback port for benches/compare.rs and benches/soak.rs.

Usage: moto_on_port.py PORT [NAME=VALUE ...]

PORT 0 picks a free port. Each NAME=VALUE is written as an SSM String parameter (account
123456789012, us-east-1) *before* the port opens, so a server restarted on the same port comes
back with its data at once, as SSM does after an outage; then one request warms moto's lazily
loaded SSM service. Prints the endpoint URL on its first line, and serves until its standard
input closes (the bench that started it exited, however it exited) or it is killed.
"""
import sys
import urllib.request

from moto.server import ThreadedMotoServer
from moto.ssm.models import ssm_backends

port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
backend = ssm_backends["123456789012"]["us-east-1"]
for pair in sys.argv[2:]:
    name, _, value = pair.partition("=")
    backend.put_parameter(
        name=name,
        description=None,
        value=value,
        parameter_type="String",
        allowed_pattern=None,
        keyid=None,
        overwrite=True,
        tags=[],
        data_type="text",
        tier=None,
        policies=None,
    )

server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
server.start()
host, port = server.get_host_and_port()
warm = urllib.request.Request(
    f"http://{host}:{port}/",
    data=b'{"Path":"/","Recursive":true,"MaxResults":1}',
    headers={
        "X-Amz-Target": "AmazonSSM.GetParametersByPath",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ssm/aws4_request, "
        "SignedHeaders=host, Signature=0",
    },
)
urllib.request.urlopen(warm, timeout=30).read()
print(f"http://{host}:{port}", flush=True)
sys.stdin.read()
server.stop()
