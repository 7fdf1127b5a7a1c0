#!/usr/bin/env python3
"""The S3 side of tests/publish_s3.rs, through boto3 (installed with moto by `make test` into
target/pydeps-s3) against moto's server with IAM authentication on.

usage:
  s3_check.py setup ENDPOINT CREDS_FILE BUCKET
      The first (unauthenticated) actions moto allows: an IAM user with an access key and an
      s3:* policy, and the bucket. Writes the key to CREDS_FILE (AWS credentials format).
  s3_check.py verify ENDPOINT CREDS_FILE BUCKET PREFIX LOCAL_DIR
      Checks, through the S3 API, what hlscam published under PREFIX: the playlist and every
      object it names, with their Content-Type and Cache-Control; segments equal to the local
      ones; the first segments deleted; and that a request signed with a wrong secret, or not
      signed at all, is refused (the signature checking is on). Prints one JSON line.
"""
import json
import os
import re
import sys

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"


def client(service, endpoint, key, secret, **kw):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **kw),
    )


def read_creds(path):
    kv = {}
    for line in open(path):
        if "=" in line:
            k, v = line.split("=", 1)
            kv[k.strip()] = v.strip()
    return kv["aws_access_key_id"], kv["aws_secret_access_key"]


def setup(endpoint, creds, bucket):
    iam = client("iam", endpoint, "AKIDSETUP", "setup")
    iam.create_user(UserName="hlscam")
    key = iam.create_access_key(UserName="hlscam")["AccessKey"]
    iam.put_user_policy(
        UserName="hlscam",
        PolicyName="s3",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
            }
        ),
    )
    s3 = client("s3", endpoint, key["AccessKeyId"], key["SecretAccessKey"])
    s3.create_bucket(Bucket=bucket)
    with open(creds, "w") as f:
        f.write(
            "[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n"
            % (key["AccessKeyId"], key["SecretAccessKey"])
        )


def refused(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def verify(endpoint, creds, bucket, prefix, local):
    key, secret = read_creds(creds)
    s3 = client("s3", endpoint, key, secret)
    errors = []
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    names = sorted(o["Key"][len(prefix):] for o in listed)
    pl = s3.get_object(Bucket=bucket, Key=prefix + "live.m3u8")
    text = pl["Body"].read().decode()
    want = {
        "live.m3u8": ("application/vnd.apple.mpegurl", "max-age=1"),
        "ts": ("video/mp2t", "max-age=31536000, immutable"),
    }
    if (pl["ContentType"], pl.get("CacheControl")) != want["live.m3u8"]:
        errors.append(f"live.m3u8: {pl['ContentType']} / {pl.get('CacheControl')}")
    if not text.endswith("#EXT-X-ENDLIST\n"):
        errors.append("the playlist has no EXT-X-ENDLIST")
    uris = [l for l in text.splitlines() if l and not l.startswith("#")]
    same = 0
    for u in uris:
        if u not in names:
            errors.append(f"the playlist names {u}, which is not in the bucket")
            continue
        o = s3.get_object(Bucket=bucket, Key=prefix + u)
        if (o["ContentType"], o.get("CacheControl")) != want["ts"]:
            errors.append(f"{u}: {o['ContentType']} / {o.get('CacheControl')}")
        body = o["Body"].read()
        mine = os.path.join(local, u)
        if os.path.exists(mine):
            if open(mine, "rb").read() != body:
                errors.append(f"{u} differs from the local segment")
            same += 1
    segs = sorted(int(m.group(1)) for n in names if (m := re.match(r"seg(\d+)\.ts$", n)))
    if 0 in segs:
        errors.append("seg0.ts was not deleted")
    if len(uris) < 6:
        errors.append(f"only {len(uris)} segments listed")
    # Signature checking is on: a wrong secret and an unsigned request are both refused.
    bad = client("s3", endpoint, key, secret[:-1] + ("x" if secret[-1] != "x" else "y"))
    wrong = refused(lambda: bad.put_object(Bucket=bucket, Key=prefix + "evil.ts", Body=b"x"))
    anon = boto3.client(
        "s3", endpoint_url=endpoint, region_name=REGION, config=Config(signature_version=UNSIGNED)
    )
    unsigned = refused(lambda: anon.put_object(Bucket=bucket, Key=prefix + "evil.ts", Body=b"x"))
    if wrong is None or unsigned is None:
        errors.append(f"not refused: wrong secret -> {wrong}, unsigned -> {unsigned}")
    print(
        json.dumps(
            {
                "objects": names,
                "listed": uris,
                "compared": same,
                "wrong_secret": wrong,
                "unsigned": unsigned,
                "errors": errors,
            }
        )
    )
    return 1 if errors or same < 3 else 0


if __name__ == "__main__":
    a = sys.argv[1:]
    if a[:1] == ["setup"] and len(a) == 4:
        setup(*a[1:])
        sys.exit(0)
    if a[:1] == ["verify"] and len(a) == 6:
        sys.exit(verify(*a[1:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
