"""A peer's test suite: every file of feedparser's own test corpus through ``feedlake run``.

    python -m tools.feedparser_corpus                      # about four minutes here
    python -m tools.feedparser_corpus --work build/fpc     # where the sdist and lakes go

Not in CI: it downloads feedparser's source distribution (the installed version, with pip
from the package registry) and takes its ``tests/`` folder: some 2,250 feeds, well-formed,
ill-formed, in a dozen encodings, compressed, and HTTP cases (redirects, 304, headers that
override the document's encoding). Each file is served over loopback HTTP the way
feedparser's own ``runtests.py`` serves it (the ``Header:`` lines of its comment become
response headers; ``tests/compression`` files are sent with their Content-Encoding), and
read again as local paths; one ``feedlake run`` each way, into its own lake.

Checked, each way: the run exits 0 and writes no traceback; no feed ends as
``unexpected_error`` and no item as a ``parser_error`` reject; and every entry feedparser
finds in what feedlake was given (the same bytes and headers, fetched here with requests)
ends as exactly one article, duplicate or reject of that feed, keeping the entry's guid
and link, and every reject has raw bytes. Exits 1 when anything fails, listing it.
"""

from __future__ import annotations

import argparse
import collections
import json
import mimetypes
import re
import shutil
import subprocess
import sys
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version
from pathlib import Path

import fastavro
import feedparser
import requests

ROOT = Path(__file__).resolve().parent.parent
_HEADER = re.compile(rb"^Header:\s+([^:]+):(.+)$", re.MULTILINE)
_THEIR_SERVER = re.compile(r"https?://(?:localhost|127\.0\.0\.1):8097")


def fetch_corpus(work: Path) -> Path:
    """feedparser's sdist for the installed version, unpacked; its root (``tests/`` in it)."""
    release = version("feedparser")
    root = work / f"feedparser-{release}"
    if (root / "tests").is_dir():
        return root
    download = [sys.executable, "-m", "pip", "download", f"feedparser=={release}"]
    download += ["--no-binary", ":all:", "--no-deps", "--quiet", "-d", str(work)]
    subprocess.run(download, check=True)
    with tarfile.open(work / f"feedparser-{release}.tar.gz") as archive:
        archive.extractall(work, filter="data")
    if not (root / "tests").is_dir():
        raise SystemExit(f"feedparser {release}'s sdist holds no tests/ folder")
    return root


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "tests").rglob("*") if p.is_file() and p.suffix != ".py")


def answer(root: Path, path: str, base: str) -> tuple[int, dict[str, str], bytes]:
    """What feedparser's test server sends for ``path``: status, headers and body."""
    if path == "/-/return-304.xml":
        return 304, {"Content-Type": "text/xml"}, b""
    body = (root / path.lstrip("/")).read_bytes()
    if path.startswith("/tests/compression"):
        encoding = "gzip" if path.endswith("gz") else "deflate"
        headers = {"Content-Encoding": encoding, "Content-Type": "application/xml"}
    else:
        headers = {k.decode().strip(): v.decode().strip() for k, v in _HEADER.findall(body)}
    headers = {name: _THEIR_SERVER.sub(base, value) for name, value in headers.items()}
    status = int(headers.pop("Status", 200))
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = mimetypes.guess_type(path)[0] or "application/xml"
    return status, headers, body


class CorpusServer:
    """The corpus on 127.0.0.1, served as feedparser's runtests.py serves it."""

    def __init__(self, root: Path) -> None:
        corpus = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                try:
                    status, headers, body = answer(root, self.path, corpus.url)
                except OSError:
                    self.send_error(404)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> CorpusServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def entries_found(feed: str) -> list[tuple[str | None, str | None]]:
    """The guid and link of each entry feedparser finds in what feedlake is given for
    ``feed`` (fetched here with requests, or read from disk)."""
    if "://" not in feed:
        kind = mimetypes.guess_type(feed)[0] or "application/xml"
        headers = {"content-type": "application/xml" if kind == "text/plain" else kind}
        body = Path(feed).read_bytes()
    else:
        try:
            response = requests.get(feed, timeout=10)
        except requests.RequestException:
            return []
        if response.status_code != 200:
            return []
        headers = {name.lower(): value for name, value in response.headers.items()}
        body = response.content
    parsed = feedparser.parse(body, response_headers={"content-location": feed, **headers})
    return [(entry.get("id") or None, entry.get("link") or None) for entry in parsed.entries]


def run_feedlake(feeds: list[str], folder: Path) -> tuple[int, str, dict]:
    """One ``feedlake run`` over ``feeds`` into a new ``folder/lake``: exit code, stderr and
    manifest."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    listing = folder / "feeds.txt"
    listing.write_text("".join(f"{feed}\n" for feed in feeds))
    argv = [sys.executable, "-m", "pipeline.cli", "run", "--feeds", str(listing)]
    argv += ["--lake", str(folder / "lake"), "--json", "--feed-min-interval", "0"]
    argv += ["--feed-attempts", "1", "--feed-timeout", "5", "--feed-deadline", "20"]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    try:
        manifest = json.loads(done.stdout)
    except json.JSONDecodeError:
        manifest = {}
    return done.returncode, done.stderr, manifest


def lake_records(lake: Path) -> dict[str, list[dict]]:
    """Every article, duplicate and reject in ``lake``, by kind."""
    found: dict[str, list[dict]] = {}
    for kind in ("articles", "duplicates", "rejects"):
        found[kind] = []
        for path in sorted(lake.glob(f"{kind}/**/*.avro")):
            with path.open("rb") as fh:
                found[kind] += list(fastavro.reader(fh))
    return found


def check(feeds: list[str], folder: Path) -> tuple[dict, list[str]]:
    """Run ``feeds`` through feedlake and check every promise; the numbers and the failures."""
    code, stderr, manifest = run_feedlake(feeds, folder)
    failures = [f"exit {code}"] if code else []
    if "Traceback" in stderr:
        failures.append("a traceback on stderr: " + stderr[stderr.index("Traceback") :][:600])
    records = lake_records(folder / "lake")
    ended: dict[str, dict[int, list]] = collections.defaultdict(
        lambda: collections.defaultdict(list)
    )
    for found in records.values():
        for record in found:
            source = record.get("source") or record  # an article's, or the reject itself
            item = (source.get("guid"), source.get("item_url"))  # none in Reject v1
            ended[record["lineage"]["source_uri"]][record["lineage"]["segment_index"]] += [item]
    rejects = records["rejects"]
    failures += [
        f"{r['lineage']['source_uri']}: a reject without raw bytes" for r in rejects if not r["raw"]
    ]
    failures += [
        f"{r['lineage']['source_uri']}: {r['message']}"
        for r in rejects
        if r["stage"] == "unexpected"
    ]
    outcomes = collections.Counter()
    entries = 0
    inputs = {line["uri"]: line for line in manifest.get("inputs", [])}
    for feed in feeds:
        uri = feed if "://" in feed else str(Path(feed).resolve())
        outcome = inputs.get(uri, {}).get("outcome", "missing from the manifest")
        outcomes[outcome] += 1
        if outcome == "unexpected_error":
            failures.append(f"{feed}: {inputs[uri]['message']}")
        expected = entries_found(feed)
        entries += len(expected)
        records_of = ended.get(uri, {})
        if sorted(records_of) != list(range(len(expected))) or any(
            len(items) != 1 for items in records_of.values()
        ):
            failures.append(f"{feed}: {len(expected)} entries, records {dict(records_of)}")
        elif [records_of[n][0] for n in range(len(expected))] != expected:
            failures.append(f"{feed}: guids and links {expected}, kept {dict(records_of)}")
    numbers = {
        "files": len(feeds),
        "entries": entries,
        **{kind: len(found) for kind, found in records.items()},
        "rejects_by_reason": dict(collections.Counter(r["reason"] for r in rejects)),
        "rejects_with_json": sum(r["lineage"]["encoding"] == "json" for r in rejects),
        "outcomes": dict(outcomes),
        "exit": code,
        "failures": len(failures),
    }
    return numbers, failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.feedparser_corpus", description=__doc__)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "feedparser-corpus")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    root = fetch_corpus(args.work)
    files = corpus_files(root)
    failed = False
    with CorpusServer(root) as server:
        ways = {
            "http": [server.url + "/" + str(p.relative_to(root)) for p in files],
            "paths": [str(p) for p in files],
        }
        for way, feeds in ways.items():
            numbers, failures = check(feeds, args.work / way)
            print(f"{way}: {json.dumps(numbers, sort_keys=True)}")
            for failure in failures[:20]:
                print(f"  FAILED {failure}")
            failed = failed or bool(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
