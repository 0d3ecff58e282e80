#!/usr/bin/env python3
"""Microsoft Presidio on the scrubber's labelled corpus: throughput and recall.

A benchmark tool, not a test: CI never runs it. It reads the same files as
the Rust corpus test (tests/data/corpus.txt, tests/data/survive.txt) and
scores Presidio with the same metric: a labelled value counts as found when
the output holds fewer copies of it than the input held outside labels;
false positives are redactions beyond the labelled ones on a line.

    pip install presidio-analyzer
    python3 crates/engines/osiris-scrub/benches/presidio/side_by_side.py

Without --model, spaCy runs a blank English pipeline (tokenizer only, no
NER), so Presidio's pattern recognizers do all the work and PERSON and
LOCATION are never found. --model NAME_OR_PATH loads an installed spaCy
pipeline instead.
"""

import argparse
import collections
import pathlib
import re
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE.parent.parent / "tests" / "data"
MARK = re.compile(r"\{\{([A-Z_]+):(.*?)\}\}")
FLOORS = {"NAME": 0.95, "ADDRESS": 0.95}


def lines(path):
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            yield line


def parse(line):
    text = MARK.sub(r"\2", line)
    spans = [(m.group(1), m.group(2)) for m in MARK.finditer(line)]
    return text, spans


def offline_tldextract():
    """Presidio's email check calls tldextract, which would fetch the public
    suffix list; the snapshot bundled with tldextract is used instead."""
    import tldextract
    from presidio_analyzer.predefined_recognizers.generic import email_recognizer

    extract = tldextract.TLDExtract(suffix_list_urls=())
    email_recognizer.tldextract = type("Offline", (), {"extract": staticmethod(extract)})


def analyzer(model):
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    offline_tldextract()

    if model is None:
        import spacy

        directory = tempfile.mkdtemp(prefix="blank-en-")
        spacy.blank("en").to_disk(directory)
        model = directory
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": model}],
        }
    )
    return AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])


def redact(engine, text):
    results = engine.analyze(text=text, language="en")
    merged = []
    for r in sorted(results, key=lambda r: (r.start, -r.end)):
        if merged and r.start < merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], r.end)
        else:
            merged.append([r.start, r.end])
    out, position = [], 0
    for start, end in merged:
        out.append(text[position:start])
        out.append("<PII>")
        position = end
    out.append(text[position:])
    return "".join(out), len(merged), {r.entity_type for r in results}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="installed spaCy pipeline (default: blank English)")
    parser.add_argument("--repeat", type=int, default=20, help="timed passes over the corpus")
    args = parser.parse_args()

    engine = analyzer(args.model)
    corpus = [parse(line) for line in lines(DATA / "corpus.txt")]
    survive = list(lines(DATA / "survive.txt"))

    found = collections.Counter()
    total = collections.Counter()
    true_positives = false_positives = 0
    entity_types = set()
    for text, spans in corpus:
        output, redactions, types = redact(engine, text)
        entity_types |= types
        found_here = 0
        for family, value in spans:
            total[family] += 1
            unlabelled = text.count(value) - sum(1 for _, v in spans if v == value)
            if output.count(value) <= unlabelled:
                found[family] += 1
                found_here += 1
        true_positives += found_here
        false_positives += max(0, redactions - len(spans))
    changed = sum(1 for line in survive if redact(engine, line)[0] != line)

    corpus_bytes = sum(len(text.encode("utf-8")) for text, _ in corpus)
    # CPU time as well as wall time: on a loaded machine only the former
    # says what one core does.
    started, cpu_started = time.perf_counter(), time.process_time()
    for _ in range(args.repeat):
        for text, _ in corpus:
            engine.analyze(text=text, language="en")
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    throughput = corpus_bytes * args.repeat / elapsed

    print(f"model: {args.model or 'blank English pipeline (no NER)'}")
    print(f"entity types seen: {', '.join(sorted(entity_types))}")
    print(f"{'family':<12} {'found':>5} {'total':>5} {'recall':>7}  floor")
    for family in sorted(total):
        recall = found[family] / total[family]
        floor = FLOORS.get(family, 0.99)
        mark = "" if recall >= floor else "  below"
        print(f"{family:<12} {found[family]:>5} {total[family]:>5} {recall:>7.3f}  {floor}{mark}")
    overall = sum(found.values()) / sum(total.values())
    precision = true_positives / max(1, true_positives + false_positives)
    print(f"overall recall {overall:.3f}; precision {precision:.3f}")
    print(f"IT evidence lines changed: {changed}/{len(survive)}")
    print(f"throughput: {throughput / 1e6:.4f} MB/s ({corpus_bytes} bytes x {args.repeat} in {elapsed:.2f} s)")
    print(f"per CPU second: {corpus_bytes * args.repeat / cpu / 1e6:.4f} MB/s ({cpu:.2f} s of CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
