# Starts moto's server (`moto_server` with the same arguments) with one change, for speed: ACM's
# RequestCertificate draws its RSA key from a small pool instead of generating a 2048-bit key per
# certificate, and a key already loaded (and checked) once is not parsed and checked again. moto
# makes that key to self-sign a stand-in certificate and then re-reads it from PEM; in Python,
# under one lock, that cost about 86 ms per call (49 ms of it the re-read) and capped a whole moto
# at about 18 certificates a second (docs/BENCHMARKS.md), slower than the ACM budget it stands in
# for. ACM makes keys on its own fleet: a tenant's request waits for the API call, not for the key.
# Nothing here or in the tests reads the key; every certificate still has its own ARN, domain and
# status, and an imported key is checked on its first load exactly as before.
import itertools
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

POOL_SIZE = 8
_generate = rsa.generate_private_key
_pools = {}


def _pooled_private_key(public_exponent, key_size, backend=None):
    pool = _pools.setdefault((public_exponent, key_size), {"keys": [], "next": None})
    if len(pool["keys"]) < POOL_SIZE:
        key = _generate(public_exponent=public_exponent, key_size=key_size)
        pool["keys"].append(key)
        return key
    if pool["next"] is None:
        pool["next"] = itertools.cycle(pool["keys"])
    return next(pool["next"])


rsa.generate_private_key = _pooled_private_key

_load_pem_private_key = serialization.load_pem_private_key
_loaded = {}


def _load_pem_private_key_once(data, password=None, *args, **kwargs):
    if password is not None:
        return _load_pem_private_key(data, password, *args, **kwargs)
    key = _loaded.get(bytes(data))
    if key is None:
        key = _load_pem_private_key(data, password, *args, **kwargs)
        if len(_loaded) < 256:
            _loaded[bytes(data)] = key
    return key


serialization.load_pem_private_key = _load_pem_private_key_once

from moto.server import main  # noqa: E402  (after the patch, so moto's modules see it)

if __name__ == "__main__":
    sys.exit(main())
