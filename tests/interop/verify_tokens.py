"""zeropass's tokens checked by someone else's code: PyJWT (with cryptography) verifies a real
access token against zeropass's published JWKS, exactly as a Python service would.

Run by .ci/interop.sh against a running zeropass and the fake Google (the `fake-providers`
binary); nothing outside loopback. Exits non-zero, with the reason, on any problem.

    verify_tokens.py BASE ISSUER ALG [--token-out FILE] [--old-token FILE]

BASE is the server's http://127.0.0.1:PORT, ISSUER its PUBLIC_URL (the tokens' `iss`), ALG
its JWT_ALGORITHM. The script checks the JWKS response (status, content type, Cache-Control,
exactly the contract's members in every key), signs a user in through the browser flow at the
fake Google, and verifies the token with PyJWT (`PyJWKSet`, algorithms pinned to ALG, audience
`zeropass`, issuer ISSUER), then makes sure PyJWT refuses it with its payload or its signature
changed and under another algorithm. With HS256 it checks that the set is empty instead.

--token-out FILE writes the token it verified; --old-token FILE (after `keys rotate --now`)
waits, bounded, for a token signed by another key than FILE's and verifies both with the
current JWKS.
"""

import argparse
import base64
import http.client
import json
import re
import sys
import time
import urllib.parse

import jwt

AUDIENCE = "zeropass"
# The contract's members of a JWK, per algorithm ("Own tokens that other services can verify
# without the secret").
MEMBERS = {
    "ES256": {"kid", "alg", "use", "kty", "crv", "x", "y"},
    "EdDSA": {"kid", "alg", "use", "kty", "crv", "x"},
}
CURVE = {"ES256": ("EC", "P-256"), "EdDSA": ("OKP", "Ed25519")}
COORDINATE_BYTES = 32  # P-256 x and y, and an Ed25519 public key


class Failure(Exception):
    """A check that did not hold."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def request(url, headers=None):
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    target = parts.path + ("?" + parts.query if parts.query else "")
    connection.request("GET", target, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.headers, response.read()


def b64url_bytes(text, what):
    check(isinstance(text, str) and re.fullmatch(r"[A-Za-z0-9_-]+", text), f"{what} is not unpadded base64url: {text!r}")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fetch_jwks(base):
    status, headers, body = request(base + "/.well-known/jwks.json")
    check(status == 200, f"GET /.well-known/jwks.json answered {status}")
    content_type = headers.get("Content-Type", "")
    check(content_type.split(";")[0].strip() == "application/json", f"JWKS content type {content_type!r}")
    cache_control = headers.get("Cache-Control", "")
    match = re.fullmatch(r"public, max-age=(\d+)", cache_control)
    check(match is not None, f"JWKS Cache-Control {cache_control!r} is not 'public, max-age=N'")
    max_age = int(match.group(1))
    check(60 <= max_age <= 600, f"JWKS max-age {max_age} is not within 60-600")
    jwks = json.loads(body)
    check(isinstance(jwks, dict) and set(jwks) == {"keys"}, f"the JWKS is not {{'keys': [...]}}: {jwks}")
    check(isinstance(jwks["keys"], list), f"'keys' is not an array: {jwks}")
    return jwks


def check_members(jwks, alg):
    check(jwks["keys"], "the JWKS lists no key")
    kids = [key.get("kid") for key in jwks["keys"]]
    check(len(set(kids)) == len(kids), f"duplicate kids: {kids}")
    kty, crv = CURVE[alg]
    for key in jwks["keys"]:
        check(set(key) == MEMBERS[alg], f"JWK members {sorted(key)} are not exactly {sorted(MEMBERS[alg])}")
        check(key["alg"] == alg and key["use"] == "sig", f"JWK alg/use: {key}")
        check(key["kty"] == kty and key["crv"] == crv, f"JWK kty/crv: {key}")
        check(len(b64url_bytes(key["kid"], "kid")) == 16, f"kid is not 128 bits: {key['kid']}")
        for coordinate in MEMBERS[alg] & {"x", "y"}:
            raw = b64url_bytes(key[coordinate], coordinate)
            check(len(raw) == COORDINATE_BYTES, f"{coordinate} has {len(raw)} bytes, not {COORDINATE_BYTES}")
        # PyJWT's own reading of the key: it must take it as a public key of this algorithm.
        parsed = jwt.PyJWK(key)
        check(parsed.algorithm_name == alg, f"PyJWT reads the key as {parsed.algorithm_name}")
        check(not hasattr(parsed.key, "private_bytes"), "PyJWT found a private key in the JWKS")


def sign_in(base):
    """The browser flow at the fake Google: start -> the fake's authorization endpoint -> our
    callback (PUBLIC_URL is not the server's address, so only the callback's query is kept)."""
    status, headers, _ = request(base + "/auth/google/start")
    check(status == 302, f"/auth/google/start answered {status}")
    cookie = headers["Set-Cookie"].split(";")[0]
    status, headers, _ = request(headers["Location"])
    check(status == 302, f"the fake Google answered {status}")
    query = urllib.parse.urlsplit(headers["Location"]).query
    status, _, body = request(base + "/auth/google/callback?" + query, {"Cookie": cookie})
    check(status == 200, f"the callback answered {status}: {body[:200]!r}")
    answer = json.loads(body)
    return answer["access_token"], answer["user"]


def verify(token, jwks, alg, issuer):
    """The claims, as a Python service would check the token."""
    header = jwt.get_unverified_header(token)
    check(header.get("alg") == alg, f"token header alg {header.get('alg')!r}, expected {alg}")
    check("kid" in header, f"token header without kid: {header}")
    key_set = jwt.PyJWKSet.from_dict(jwks)
    return jwt.decode(
        token,
        key=key_set[header["kid"]],
        algorithms=[alg],
        audience=AUDIENCE,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


def refused(description, attempt):
    try:
        attempt()
    except jwt.InvalidTokenError:
        return
    raise Failure(f"PyJWT accepted {description}")


def tampered(token):
    header, payload, signature = token.split(".")
    claims = json.loads(b64url_bytes(payload, "payload"))
    claims["sub"] = "00000000-0000-4000-8000-000000000001"
    changed = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    raw = bytearray(b64url_bytes(signature, "signature"))
    raw[10] ^= 0x01
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    return f"{header}.{changed}.{signature}", f"{header}.{payload}.{flipped}"


def check_token(token, user, jwks, alg, issuer):
    claims = verify(token, jwks, alg, issuer)
    check(claims["sub"] == user["id"], f"sub {claims['sub']} is not the user {user['id']}")
    check(claims["email"] == user["email"], f"email {claims['email']} is not {user['email']}")
    changed_payload, changed_signature = tampered(token)
    refused("a token with a changed payload", lambda: verify(changed_payload, jwks, alg, issuer))
    refused("a token with a changed signature", lambda: verify(changed_signature, jwks, alg, issuer))
    other = "EdDSA" if alg == "ES256" else "ES256"
    key = jwt.PyJWKSet.from_dict(jwks)[jwt.get_unverified_header(token)["kid"]]
    refused(f"the token under algorithms=[{other}]", lambda: jwt.decode(token, key=key, algorithms=[other], audience=AUDIENCE, issuer=issuer))
    refused("the token for another audience", lambda: jwt.decode(token, key=key, algorithms=[alg], audience="someone-else", issuer=issuer))
    return claims


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("issuer")
    parser.add_argument("alg", choices=["HS256", "ES256", "EdDSA"])
    parser.add_argument("--token-out")
    parser.add_argument("--old-token")
    args = parser.parse_args()

    jwks = fetch_jwks(args.base)
    if args.alg == "HS256":
        check(jwks == {"keys": []}, f"HS256: the JWKS must be empty, not {jwks}")
        token, _ = sign_in(args.base)
        check(jwt.get_unverified_header(token)["alg"] == "HS256", "HS256: the token is not HS256")
        print("HS256: the JWKS is {'keys': []}")
        return

    check_members(jwks, args.alg)
    token, user = sign_in(args.base)
    claims = check_token(token, user, jwks, args.alg, args.issuer)
    kid = jwt.get_unverified_header(token)["kid"]
    if not args.old_token:
        print(f"{args.alg}: PyJWT {jwt.__version__} verified the token of kid {kid} (sub {claims['sub']}) from a JWKS of {len(jwks['keys'])} key(s); tampered tokens refused")

    if args.old_token:
        with open(args.old_token) as file:
            old = file.read().strip()
        old_kid = jwt.get_unverified_header(old)["kid"]
        deadline = time.monotonic() + 20
        while kid == old_kid:
            check(time.monotonic() < deadline, f"still signing with {old_kid} 20 s after keys rotate --now")
            time.sleep(0.2)
            token, user = sign_in(args.base)
            kid = jwt.get_unverified_header(token)["kid"]
        jwks = fetch_jwks(args.base)
        check_members(jwks, args.alg)
        published = {key["kid"] for key in jwks["keys"]}
        check({old_kid, kid} <= published, f"after rotation the JWKS lists {published}, not both {old_kid} and {kid}")
        check_token(token, user, jwks, args.alg, args.issuer)
        verify(old, jwks, args.alg, args.issuer)
        print(f"{args.alg}: after keys rotate --now, new kid {kid}; PyJWT verified the old ({old_kid}) and the new token from one JWKS")

    if args.token_out:
        with open(args.token_out, "w") as file:
            file.write(token)


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        sys.exit(f"verify_tokens.py: FAILED: {failure}")
