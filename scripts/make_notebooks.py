"""Write the five lesson notebooks in notebooks/ from the cells below.

    python scripts/make_notebooks.py           # (re)write the notebooks
    python scripts/make_notebooks.py --check   # exit 1 if a notebook differs from what this writes

Stored-outputs policy (see notebooks/README.md): notebooks are stored WITHOUT outputs, except the
cells marked ``# NBVAL_CHECK_OUTPUT``, which store their expected output (and an execution count,
which nbval requires of a reference cell): ``pytest --nbval-lax``, run by the regression tests,
compares the executed output against it. Those cells print only what is
the same in both worlds (Hub and offline stand-ins): label names, sampling rates, model classes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO_URL = "https://github.com/audio-course/audio-classification-course"
BRANCH = "main"
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CHECK = "# NBVAL_CHECK_OUTPUT"


# --- cells ---------------------------------------------------------------------------------------


def md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(text.strip("\n"))}


def code(source: str, expect: str | None = None) -> dict:
    """A code cell; ``expect`` is the stored output of a checked cell (then the source must carry CHECK)."""
    source = source.strip("\n")
    outputs = []
    if expect is not None:
        assert source.startswith(CHECK), source[:60]
        outputs = [{"name": "stdout", "output_type": "stream", "text": _lines(expect.strip("\n") + "\n")}]
    else:
        assert CHECK not in source, source[:60]
    # nbval compares only cells that have an execution count (and refuses unrun cells with outputs).
    return {"cell_type": "code", "execution_count": 1 if expect is not None else None, "metadata": {},
            "outputs": outputs, "source": _lines(source)}


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO_URL.removeprefix('https://github.com/')}/blob/{BRANCH}/notebooks/{name}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


SETUP = f'''
# Setup. Where the course package is missing (Colab, a fresh machine) install it and the audio
# tools; where it imports (a local install, CI) nothing is installed.
import importlib.util, subprocess, sys

REPO_URL = "{REPO_URL}"
if importlib.util.find_spec("course_utils") is None:
    subprocess.run("apt-get -qq update && apt-get -qq install -y ffmpeg espeak-ng", shell=True, check=False)
    # Keeps the torch that is there (Colab's CUDA build), then adds the torchcodec made for it.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{{REPO_URL}}"], check=True)
    subprocess.run([sys.executable, "-m", "course_utils", "install-torchcodec"], check=True)

import course_utils
# Before the Hugging Face libraries are imported: online they use the Hub; offline they are pointed
# at a local Hub on this machine that serves stand-ins under the same ids.
world = course_utils.start_world()
OFFLINE = world.offline

import warnings
# Silenced on purpose, each a known message that a learner can do nothing about:
warnings.filterwarnings("ignore", message=".*pipelines sequentially on GPU.*")  # we loop over a few clips on purpose
warnings.filterwarnings("ignore", message=".*num_workers>1.*")  # the pipeline's note about iterable inputs
warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")  # deprecation notes for library authors
from transformers.utils import logging as hf_logging
hf_logging.set_verbosity_error()  # hides info lines such as "Device set to use cpu"
hf_logging.disable_progress_bar()  # per-file "Loading weights" bars (training keeps its progress bar)
import datasets
datasets.disable_progress_bars()  # "Generating split" bars of every small parquet file

import numpy as np
import torch
from transformers import set_seed

from course_utils import display

set_seed(0)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SIZE = course_utils.course_size()  # "tiny" in CI, "course" for learners
print(f"Device: {{DEVICE}}, size: {{SIZE}}")
'''


def header(name: str, title: str, intro: str) -> list[dict]:
    return [md(f"# {title}\n\n{badge(name)}\n\n{intro.strip()}"), code(SETUP)]


# --- 01 intent classification --------------------------------------------------------------------

MINDS_INTENTS = ("abroad, address, app_error, atm_limit, balance, business_loan, card_issues, cash_deposit, "
                 "direct_debit, freeze, high_value_payment, joint_account, latest_transactions, pay_bill")

NB01 = "01_intent_classification_minds14.ipynb"
CELLS01 = header(NB01, "Intent classification: what does the caller want?", """
A bank's phone line hears "I'd like to pay my electricity bill" and must route the call. That is
**intent classification**: one label per spoken utterance, chosen from a fixed set of intents. The
model never writes down the words; it maps the sound straight to the intent.

In this lesson we load the MINDS-14 dataset (e-banking calls in 14 languages), listen to a call,
classify it with a fine-tuned XLS-R model, and then measure how often the model is right.
""") + [
    md("""
## Load one language of MINDS-14

The dataset's repository holds a loading script, which today's 🤗 Datasets refuses to run, so we read
the Hub's own parquet conversion of it: the branch `refs/convert/parquet`, with one folder per configuration
(`data_dir` picks one). Offline, the same call reaches the local Hub's stand-in, which has the same
columns and label names.
"""),
    code('''
from datasets import load_dataset

minds = load_dataset("PolyAI/minds14", data_dir="en-AU", revision="refs/convert/parquet", split="train")
minds
'''),
    md("The label we want to predict is `intent_class`, a `ClassLabel` with 14 names:"),
    code(f'''
{CHECK}
intents = minds.features["intent_class"].names
print(len(intents), "intents:", ", ".join(intents))
''', expect=f"14 intents: {MINDS_INTENTS}"),
    md("""
## Listen to a call

Each row holds the audio, its transcription and the intent. Audio columns decode to an
`AudioDecoder`; `display.play` plays it at its own sampling rate. MINDS-14 is telephone audio at
8 kHz, so the spectrogram stops at 4 kHz.
"""),
    code('''
example = minds[0]
print("Transcription:", example["english_transcription"])
print("Intent:       ", intents[example["intent_class"]])
display.play(example["audio"])
display.plot_clip(example["audio"], title="one MINDS-14 call")
'''),
    md("""
## Classify it with a pipeline

The checkpoint `anton-l/xtreme_s_xlsr_300m_minds14` is XLS-R (a wav2vec 2.0 model pre-trained on
128 languages) fine-tuned on all 14 languages of MINDS-14. The model expects 16 kHz input.
"""),
    code('''
from transformers import pipeline

classifier = pipeline("audio-classification", model="anton-l/xtreme_s_xlsr_300m_minds14", device=DEVICE)
'''),
    code(f'''
{CHECK}
rate = classifier.feature_extractor.sampling_rate
print(type(classifier.model).__name__, "expects", rate, "Hz audio")
''', expect="Wav2Vec2ForSequenceClassification expects 16000 Hz audio"),
    md("""
The pipeline wants raw samples at the model's rate. `to_pipeline_input` decodes the clip and
resamples 8 kHz to 16 kHz (the published course's `example["audio"].copy()` no longer works: an
`AudioDecoder` has no `.copy()`). `top_k=5` asks for the five most likely intents. (This call
is in MINDS-14's `train` split, which both the real checkpoint and the offline stand-in trained on,
so expect it right: the next section measures on calls the model has not learned.)
"""),
    code('''
from course_utils import to_pipeline_input

predictions = classifier(to_pipeline_input(example["audio"], rate), top_k=5)
print(display.format_topk(predictions, truth=intents[example["intent_class"]]))
'''),
    md("""
## Measure: accuracy on a split

One prediction proves nothing. We classify a seeded random sample of the split and count how
often the top label is the true intent. The pipeline batches clips when we feed it a generator.

MINDS-14 has only a `train` split, and the real checkpoint was fine-tuned on part of it, so online
this figure is optimistic. The offline stand-in records its speakers in `path`: its model never
heard the voices of fold 4, so offline we measure on those clips, across all its languages (the
model is multilingual, and en-AU alone has too few held-out clips at the tiny size).
"""),
    code('''
N_EVAL = {"tiny": 60, "course": 300}[SIZE]
if OFFLINE:
    pool = load_dataset("PolyAI/minds14", data_dir="all", revision="refs/convert/parquet", split="train")
    pool = pool.filter(lambda path: "/fold4-" in path, input_columns="path")
else:
    pool = minds
sample = pool.shuffle(seed=0).select(range(min(N_EVAL, len(pool))))

def clips(rows):
    for row in rows:
        yield to_pipeline_input(row["audio"], rate)

predicted = [out[0]["label"] for out in classifier(clips(sample), batch_size=8, top_k=1)]
references = [intents[i] for i in sample["intent_class"]]
'''),
    code('''
from course_utils.metrics import accuracy, confusion, load_accuracy

acc = accuracy(predicted, references)
print(f"accuracy on {len(references)} calls: {acc:.3f} (chance: {1 / len(intents):.3f})")
'''),
    md("The same figure with 🤗 Evaluate (a local copy of its `accuracy` metric, so it works offline too):"),
    code('''
metric = load_accuracy()
label2id = {name: i for i, name in enumerate(intents)}
metric.compute(predictions=[label2id[p] for p in predicted], references=[label2id[r] for r in references])
'''),
    md("""
## Where does it go wrong?

A confusion matrix counts, for each true intent (row), which intent was predicted (column).
The diagonal is what the model got right.
"""),
    code('''
display.plot_confusion(confusion(predicted, references, intents), intents, title="MINDS-14: true vs predicted intent")
'''),
    code('''
from course_utils.metrics import report_headline

headline = report_headline("01_intent_classification_minds14", "accuracy", acc, n=len(references), chance=round(1 / len(intents), 3))
'''),
    md("""
## Takeaways

- A pipeline turns a fine-tuned checkpoint into a classifier in one line; the input must be at
  the model's sampling rate.
- Judge a model by a measured accuracy over many examples, never by one prediction.
- The confusion matrix shows which intents sound alike to the model.
"""),
]


# --- 02 keyword spotting --------------------------------------------------------------------------

NB02 = "02_keyword_spotting_speech_commands.ipynb"
CELLS02 = header(NB02, "Keyword spotting: Speech Commands", """
**Keyword spotting** listens for short spoken commands, like "Hey Siri" or "stop". The model sees a
one-second clip and says which word it heard, or that it heard something else. It must be small
and fast, because it runs all the time.

We use Speech Commands v0.02 and an Audio Spectrogram Transformer (AST) fine-tuned on it: an
accurate reference model (87 M parameters), far larger than what an always-on device would run.
""") + [
    md("""
## Stream the dataset

With `streaming=True` nothing is downloaded up front: rows arrive as we iterate, which is handy
for a large dataset when we only need a few examples. Speech Commands' repository holds a loading
script, which today's 🤗 Datasets refuses to run, so we read the Hub's parquet conversion of it
(the branch `refs/convert/parquet`; `data_dir` picks the version).
"""),
    code('''
from datasets import load_dataset

speech_commands = load_dataset("google/speech_commands", data_dir="v0.02", revision="refs/convert/parquet",
                               split="validation", streaming=True)
sample = next(iter(speech_commands))
labels = speech_commands.features["label"].names
print(sample["file"], "->", labels[sample["label"]])
display.play(sample["audio"])
display.plot_clip(sample["audio"], title=f"'{labels[sample['label']]}'")
'''),
    md("""
## 36 labels: commands, other words and silence

The first ten labels are the **commands** (`is_unknown` is False). Twenty-five more words are
recorded so that a model learns to say "not a command" (`is_unknown` is True). `_silence_` holds
background noise with no speech: a keyword spotter hears that most of the time.
"""),
    code(f'''
{CHECK}
print("commands:", ", ".join(labels[:10]))
print("other words:", ", ".join(labels[10:35]))
print("no speech:", labels[35])
''', expect="""
commands: yes, no, up, down, left, right, on, off, stop, go
other words: zero, one, two, three, four, five, six, seven, eight, nine, bed, bird, cat, dog, happy, house, marvin, sheila, tree, wow, backward, forward, follow, learn, visual
no speech: _silence_
"""),
    md("## Classify the clip with AST"),
    code('''
from transformers import pipeline
from course_utils.fbank import fast_fbank

classifier = pipeline("audio-classification", model="MIT/ast-finetuned-speech-commands-v2",
                      device=DEVICE)
classifier.feature_extractor = fast_fbank(classifier.feature_extractor)  # same features, faster without torchaudio
'''),
    code(f'''
{CHECK}
rate = classifier.feature_extractor.sampling_rate
print(type(classifier.model).__name__, "expects", rate, "Hz audio")
''', expect="ASTForAudioClassification expects 16000 Hz audio"),
    code('''
from course_utils import to_pipeline_input

predictions = classifier(to_pipeline_input(sample["audio"], rate), top_k=5)
print(display.format_topk(predictions, truth=labels[sample["label"]]))
'''),
    md("""
AST turns the clip into a log-mel spectrogram, cuts it into patches like an image, and runs a
Transformer over the patches. What does it say when nobody speaks? One second of faint noise:
"""),
    code('''
quiet = np.random.default_rng(0).normal(0, 0.003, rate).astype(np.float32)
print(display.format_topk(classifier({"raw": quiet, "sampling_rate": rate}, top_k=3), k=3))
'''),
    md("""
The model can only predict the labels it was trained with. The real AST checkpoint knows the 35
words but not `_silence_`, so silence clips have no right answer for it; we leave out dataset
labels the model does not have, and say how many.
"""),
    code('''
model_labels = set(classifier.model.config.id2label.values())
missing = [name for name in labels if name not in model_labels]
print(f"the model has {len(model_labels)} labels; dataset labels it cannot predict: {missing or 'none'}")
'''),
    md("""
## Accuracy on the validation split, batched

Feeding the pipeline a generator with `batch_size` lets it pad and run several clips at once.
The generator also records each clip's true label as it streams past. The split is stored
grouped by label, and a streamed `shuffle` only mixes what fits in its buffer: with a buffer
smaller than the split, the first clips come from the first few labels only. So the buffer holds
the whole validation split (about 10,000 clips online, a few hundred MB), and we check which
labels the sample covers.
"""),
    code('''
N_EVAL = {"tiny": 40, "course": 500}[SIZE]
stream = speech_commands.shuffle(seed=0, buffer_size=10_000).filter(lambda row: labels[row["label"]] in model_labels)
references = []

def clips(rows):
    for row in rows.take(N_EVAL):
        references.append(labels[row["label"]])
        yield to_pipeline_input(row["audio"], rate)

predicted = [out[0]["label"] for out in classifier(clips(stream), batch_size=16, top_k=1)]
'''),
    code('''
from course_utils.metrics import accuracy, accuracy_by

acc = accuracy(predicted, references)
is_command = ["command" if r in labels[:10] else "other" for r in references]
print(f"accuracy on {len(references)} validation clips of {len(set(references))} of the model's {len(model_labels)} "
      f"labels: {acc:.3f} (chance: {1 / len(model_labels):.3f})")
print("by kind of label:", {k: round(v, 3) for k, v in accuracy_by(is_command, predicted, references).items()})
'''),
    code('''
from course_utils.metrics import confusion

shown = sorted(set(references) | set(predicted), key=labels.index)
display.plot_confusion(confusion(predicted, references, shown), shown, title="Speech Commands validation")
'''),
    code('''
from course_utils.metrics import report_headline

headline = report_headline("02_keyword_spotting_speech_commands", "accuracy", acc, n=len(references),
                chance=round(1 / len(model_labels), 3))
'''),
    md("""
## Takeaways

- Streaming reads only the rows you use.
- A keyword spotter needs "other word" and "no speech" classes, or it will hear commands everywhere.
- Batched inference over an iterator is the fast way to score a split.
"""),
]


# --- 03 language identification -------------------------------------------------------------------

NB03 = "03_language_identification_fleurs.ipynb"
CELLS03 = header(NB03, "Language identification: FLEURS", """
**Language identification** (LID) tells which language is spoken. Speech systems use it to pick
the right recogniser. We use FLEURS (read sentences in 102 languages) and a Whisper encoder
fine-tuned to classify the language.
""") + [
    md("""
## Stream FLEURS

FLEURS' repository holds a loading script, which today's 🤗 Datasets refuses to run, so we read the
Hub's parquet conversion of it: the branch `refs/convert/parquet`, one folder per language
(`data_dir` picks one; the `all` configuration was never converted). We stream one example.
"""),
    code('''
from datasets import load_dataset

PARQUET = "refs/convert/parquet"
fleurs = load_dataset("google/fleurs", data_dir="en_us", revision=PARQUET, split="test", streaming=True)
sample = next(iter(fleurs))
lang_ids = fleurs.features["lang_id"]
print(f"{sample['language']} ({lang_ids.int2str(sample['lang_id'])}): {sample['transcription']}")
display.play(sample["audio"])
display.plot_clip(sample["audio"], title=sample["language"])
'''),
    code(f'''
{CHECK}
codes = [name for name in lang_ids.names if name != "all"]  # the ClassLabel also names the `all` config
print(len(codes), "language codes, e.g.", ", ".join(codes[:4]), "...")
''', expect="102 language codes, e.g. af_za, am_et, ar_eg, as_in ..."),
    md("## Classify with the Whisper LID model"),
    code('''
from transformers import pipeline

classifier = pipeline("audio-classification", model="sanchit-gandhi/whisper-medium-fleurs-lang-id", device=DEVICE)
'''),
    code(f'''
{CHECK}
rate = classifier.feature_extractor.sampling_rate
print(type(classifier.model).__name__, "expects", rate, "Hz audio")
''', expect="WhisperForAudioClassification expects 16000 Hz audio"),
    md("The model's labels are language names, the same as the dataset's `language` column:"),
    code('''
from course_utils import to_pipeline_input

predictions = classifier(to_pipeline_input(sample["audio"], rate), top_k=5)
print(display.format_topk(predictions, truth=sample["language"]))
'''),
    md("""
## Accuracy per language

We stream a few test clips of each language from its own folder and classify them in batches.
`list_repo_tree` shows which language folders the parquet branch has:
"""),
    code('''
from huggingface_hub import HfApi, RepoFolder

tree = HfApi().list_repo_tree("google/fleurs", repo_type="dataset", revision=PARQUET)
available = sorted(entry.path for entry in tree if isinstance(entry, RepoFolder))
print(len(available), "language folders:", ", ".join(available[:6]), "...")
# 25 languages of several families (offline, the stand-in has exactly these)
LANGUAGES = ["af_za", "be_by", "bg_bg", "ca_es", "cs_cz", "da_dk", "de_de", "el_gr", "en_us", "es_419", "fi_fi",
             "fr_fr", "hi_in", "hu_hu", "id_id", "it_it", "nl_nl", "pl_pl", "pt_br", "ro_ro", "ru_ru", "sv_se",
             "tr_tr", "uk_ua", "vi_vn"]
languages = [code for code in LANGUAGES if code in available]
PER_LANG = {"tiny": 3, "course": 20}[SIZE]
print(len(languages), "languages, up to", PER_LANG, "test clips each")
'''),
    code('''
def classify(rows):
    """Top-1 predictions and true languages for a stream of rows, classified in batches."""
    truth = []

    def clips():
        for row in rows:
            truth.append(row["language"])
            yield to_pipeline_input(row["audio"], rate)

    predicted = [out[0]["label"] for out in classifier(clips(), batch_size=8, top_k=1)]
    return predicted, truth

def test_rows():
    for code in languages:  # one language folder at a time
        stream = load_dataset("google/fleurs", data_dir=code, revision=PARQUET, split="test", streaming=True)
        yield from stream.take(PER_LANG)

predicted, references = classify(test_rows())
'''),
    code('''
from collections import Counter
from course_utils.metrics import accuracy, accuracy_by

acc = accuracy(predicted, references)
chance = 1 / len(languages)  # guessing among the languages tested (the model knows more, so this is generous)
per_language = accuracy_by(references, predicted, references)
counts = sorted(set(Counter(references).values()))  # a split may hold fewer clips than we asked for
each = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
print(f"accuracy on {len(references)} test clips of {len(languages)} languages ({each} each): {acc:.3f} "
      f"(chance: {chance:.3f})")
'''),
    code('''
import matplotlib.pyplot as plt

names, values = zip(*sorted(per_language.items(), key=lambda kv: kv[1]))
fig, ax = plt.subplots(figsize=(7, 0.3 * len(names) + 1), layout="constrained")
ax.barh(names, values)
ax.set(xlim=(0, 1), xlabel="accuracy", title=f"accuracy per language ({len(references)} test clips)")
plt.show()
'''),
    md("Which languages does it take for which? Related languages (Russian and Ukrainian, say) are the usual suspects:"),
    code('''
from course_utils.metrics import confusion

shown = sorted(set(references) | set(predicted))  # the model may answer a language we did not test
display.plot_confusion(confusion(predicted, references, shown), shown, title="FLEURS test: true vs predicted language")
'''),
    md("""
## Offline only: synthetic voices versus human speech

Offline, the stand-in model was trained on speech synthesised on this machine. Its `test` split is
synthesised too, by voices held out from training, so the figure above measures "new synthetic
voices". Offline there is also `course-standins/fleurs-human-speech`, a repository that only the
local Hub has (no such thing exists on the real Hub): recordings of people, for some of the
stand-in's languages, in FLEURS' columns. A model that learned the synthesisers' habits rather than the languages drops sharply
there; the real checkpoint, trained on thousands of human speakers, is measured on human speech
from the start.
"""),
    code('''
real_acc = None
if OFFLINE:  # a stand-in-only repository: the real FLEURS is human speech already
    real = load_dataset("course-standins/fleurs-human-speech", split="test", streaming=True)
    real_predicted, real_references = classify(real.take({"tiny": 40, "course": 400}[SIZE]))
    real_acc = accuracy(real_predicted, real_references)
    print(f"synthetic voices: {acc:.3f} on {len(references)} clips")
    print(f"human speech:     {real_acc:.3f} on {len(real_references)} clips of {len(set(real_references))} languages "
          f"(chance: {chance:.3f})")
else:
    print("Online: the figure above is already measured on human speech.")
'''),
    code('''
from course_utils.metrics import report_headline

headline = report_headline("03_language_identification_fleurs", "accuracy", acc, n=len(references),
                           chance=round(chance, 3), languages=len(languages), real_speech_accuracy=real_acc)
'''),
    md("""
## Takeaways

- A pipeline's labels can be names rather than codes; compare like with like.
- Report accuracy per language: an average hides the languages a model confuses.
- Accuracy on data like the training data (here synthetic voices) says little about new
  conditions (human voices). Always test on what the model will really meet.
"""),
]


# --- 04 zero-shot CLAP ----------------------------------------------------------------------------

NB04 = "04_zero_shot_clap_esc50.ipynb"
# The categories the CLAP stand-in never trained on (model_clap.UNSEEN; a test keeps them equal).
CLAP_UNSEEN = ["dog", "cat", "cow", "pig", "sheep", "hen", "rooster", "crow", "frog"]
CELLS04 = header(NB04, "Zero-shot audio classification with CLAP", """
A classifier fine-tuned on dogs and sirens cannot recognise a train. **CLAP** (Contrastive
Language-Audio Pre-training) learned from audio paired with text to place a sound and its
description close together. To classify, we describe each candidate label in words and pick the
description closest to the sound: **zero-shot**, no training on our labels.

We test it on ESC-50, 2,000 five-second environmental sounds in 50 categories (the offline
stand-in has 30 of them).
""") + [
    md("## Load ESC-50"),
    code('''
from datasets import load_dataset

esc = load_dataset("ashraq/esc50", split="train")  # a plain parquet repository: no revision needed
categories = sorted(set(esc["category"]))
print(len(esc), "clips in", len(categories), "categories")
'''),
    md("""
## Listen at the right speed

ESC-50 is recorded at 44.1 kHz. A player must use the clip's own rate: played at 16 kHz (as the
published course did) a clip lasts 2.8 times longer and sounds far lower. `display.play` reads the
rate from the clip.
"""),
    code('''
example = esc[0]
print(example["category"], "-", example["filename"])
display.play(example["audio"])
display.plot_clip(example["audio"], title=example["category"])
'''),
    md("## The model and its sampling rate"),
    code('''
from transformers import ClapModel, ClapProcessor, pipeline

checkpoint = "laion/clap-htsat-unfused"
model = ClapModel.from_pretrained(checkpoint).to(DEVICE).eval()
processor = ClapProcessor.from_pretrained(checkpoint)
'''),
    code(f'''
{CHECK}
MODEL_RATE = processor.feature_extractor.sampling_rate
print(f"ESC-50 clips are recorded at {{display.native_rate(example['audio'])}} Hz; CLAP expects {{MODEL_RATE}} Hz")
''', expect="ESC-50 clips are recorded at 44100 Hz; CLAP expects 48000 Hz"),
    md("""
The zero-shot pipeline takes a bare array and assumes it is already at 48 kHz, so we resample
first: feeding the 44.1 kHz samples directly would play the sound 9 % too fast to the model.
(Offline, this clip is from a recording the stand-in trained on, so expect it right; the next
section measures on recordings it never heard.)
"""),
    code('''
from course_utils import load_audio

audio_48k = load_audio(example["audio"], MODEL_RATE)
zero_shot = pipeline("zero-shot-audio-classification", model=model, feature_extractor=processor.feature_extractor,
                     tokenizer=processor.tokenizer, device=DEVICE)
candidates = ["dog", "vacuum cleaner", "rain", example["category"].replace("_", " ")]
predictions = zero_shot(audio_48k, candidate_labels=candidates, hypothesis_template="Sound of a {}")
print(display.format_topk(predictions, truth=example["category"].replace("_", " ")))
'''),
    md(f"""
## Zero-shot accuracy over all the categories

Now every clip of ESC-50's fifth fold competes against every category present in the dataset.
Offline, the stand-in CLAP was trained on folds 1-4 only, and never on nine animals
({", ".join(CLAP_UNSEEN)}): for the other categories it has heard other recordings of the
same sounds, which a real zero-shot model has not, so below we also score the two kinds apart.
CLAP maps a clip and a text into the same embedding space; the prediction is the prompt whose
embedding is closest (cosine similarity) to the clip's. We embed the clips once, then any set of prompts is cheap.
"""),
    code('''
import torch.nn.functional as F

N_EVAL = {"tiny": 40, "course": 400}[SIZE]
fold5 = esc.filter(lambda fold: fold == 5, input_columns="fold")  # ESC-50's last fold; the stand-in never trained on it
sample = fold5.shuffle(seed=0).select(range(min(N_EVAL, len(fold5))))
references = sample["category"]

@torch.no_grad()
def embed_audio(clips, batch_size=16):
    parts = []
    for lo in range(0, len(clips), batch_size):
        batch = [load_audio(a, MODEL_RATE) for a in clips[lo:lo + batch_size]]
        inputs = processor(audio=batch, sampling_rate=MODEL_RATE, return_tensors="pt").to(DEVICE)
        parts.append(F.normalize(model.get_audio_features(**inputs).pooler_output, dim=-1))
    return torch.cat(parts)

@torch.no_grad()
def embed_text(prompts):
    inputs = processor(text=prompts, return_tensors="pt", padding=True).to(DEVICE)
    return F.normalize(model.get_text_features(**inputs).pooler_output, dim=-1)

audio_embeddings = embed_audio(sample["audio"])
print(audio_embeddings.shape, "(clips x embedding size)")
'''),
    code('''
from course_utils.metrics import accuracy

def wording_accuracy(template, clean=True):
    """Zero-shot accuracy when each category is written as `template` (with or without underscores)."""
    names = [c.replace("_", " ") if clean else c for c in categories]
    similarity = audio_embeddings @ embed_text([template.format(n) for n in names]).T
    predicted = [categories[i] for i in similarity.argmax(dim=-1).tolist()]
    return accuracy(predicted, references), predicted

acc, predicted = wording_accuracy("Sound of a {}")
print(f"zero-shot accuracy on {len(references)} clips, {len(categories)} categories: {acc:.3f} "
      f"(chance: {1 / len(categories):.3f})")
'''),
    code(f'''
from course_utils.metrics import accuracy_by

if OFFLINE:  # the stand-in trained on other recordings of most categories: only {len(CLAP_UNSEEN)} are truly zero-shot
    unseen = set({CLAP_UNSEEN!r})
    kind = ["never trained on (zero-shot)" if r in unseen else "trained on other recordings" for r in references]
    for name, value in accuracy_by(kind, predicted, references).items():
        print(f"{{name}}: {{value:.3f}} on {{kind.count(name)}} clips")
'''),
    md("""
## The wording of the labels matters

The text tower only sees words. Raw dataset names such as `sea_waves`, a bare name with no
context, and a full sentence can change the accuracy (for the real CLAP by several points; the
small offline stand-in is less sensitive):
"""),
    code('''
for template, clean in [("{}", False), ("{}", True), ("Sound of a {}", True), ("This is a sound of {}.", True),
                        ("a recording of {}", True)]:
    shown = template.format("sea_waves" if not clean else "sea waves")
    print(f"{shown!r:32} {wording_accuracy(template, clean)[0]:.3f}")
'''),
    code('''
from course_utils.metrics import confusion

shown = sorted(set(references) | set(predicted))
display.plot_confusion(confusion(predicted, references, shown), shown, title='zero-shot, "Sound of a {}"')
'''),
    code('''
from course_utils.metrics import report_headline

headline = report_headline("04_zero_shot_clap_esc50", "accuracy", acc, n=len(references), categories=len(categories),
                chance=round(1 / len(categories), 3), prompt="Sound of a {}")
'''),
    md("""
## Takeaways

- Zero-shot classification needs no training data for your labels, only good descriptions.
- Resample to the model's rate (48 kHz for CLAP) and play at the clip's own rate (44.1 kHz here).
- Prompt wording is a parameter: measure it like any other.
"""),
]


# --- 05 fine-tuning -------------------------------------------------------------------------------

GENRES = "blues, classical, country, disco, hiphop, jazz, metal, pop, reggae, rock"
NB05 = "05_finetune_distilhubert_gtzan.ipynb"
CELLS05 = header(NB05, "Fine-tuning DistilHuBERT for music genres (GTZAN)", """
When no checkpoint does your task, you **fine-tune** one: take a model pre-trained on lots of
unlabelled audio, put a small classification head on top, and train on your labels. Here:
DistilHuBERT (a small distilled HuBERT speech encoder) on GTZAN, 1,000 30-second songs in ten
genres. Then we evaluate it, save it, and build a demo.
""") + [
    md("""
## The dataset and a validation split

GTZAN's repository holds a loading script, which today's 🤗 Datasets refuses to run, so we read the
Hub's parquet conversion of it (the branch `refs/convert/parquet`; its one configuration is `all`).
"""),
    code('''
from datasets import load_dataset

gtzan = load_dataset("marsyas/gtzan", data_dir="all", revision="refs/convert/parquet", split="train")
gtzan
'''),
    md("GTZAN has no validation split, so we hold out 10 %, seeded so the split is the same every time:"),
    code('''
gtzan = gtzan.train_test_split(seed=42, shuffle=True, test_size=0.1)
gtzan
'''),
    code(f'''
{CHECK}
id2label_fn = gtzan["train"].features["genre"].int2str
print(", ".join(id2label_fn(i) for i in range(10)))
''', expect=GENRES),
    md("""
## Listen

One file of the real GTZAN (`jazz.00054.wav`) cannot be decoded; the offline stand-in has a
broken file too (preprocessing below names it). We pick a clip that decodes, and deal with the
broken one during preprocessing.
"""),
    code('''
from course_utils import AudioDecodeError, load_audio

for row in gtzan["train"]:
    try:
        load_audio(row["audio"], None, max_seconds=0.1)
        example = row
        break
    except AudioDecodeError as error:
        print("skipping:", error)
print(example["file"].rsplit("/", 1)[-1], "->", id2label_fn(example["genre"]))
display.play(example["audio"])
display.plot_clip(example["audio"], title=id2label_fn(example["genre"]))
'''),
    md("""
## The feature extractor: rate and normalisation

DistilHuBERT was pre-trained on 16 kHz speech; GTZAN is 22.05 kHz. `cast_column` makes the
dataset decode at 16 kHz. The feature extractor then normalises each clip to zero mean and unit
variance, which keeps training stable.
"""),
    code('''
model_id = "ntu-spml/distilhubert"
'''),
    code(f'''
{CHECK}
from datasets import Audio
from transformers import AutoFeatureExtractor

feature_extractor = AutoFeatureExtractor.from_pretrained(model_id, do_normalize=True, return_attention_mask=True)
sampling_rate = feature_extractor.sampling_rate
gtzan = gtzan.cast_column("audio", Audio(sampling_rate=sampling_rate))
print("model rate:", sampling_rate, "Hz; dataset now decodes at", gtzan["train"].features["audio"].sampling_rate, "Hz")
''', expect="model rate: 16000 Hz; dataset now decodes at 16000 Hz"),
    code('''
sample = load_audio(example["audio"], sampling_rate)
inputs = feature_extractor(sample, sampling_rate=sampling_rate)
print(f"before: mean {np.mean(sample):+.4f}, variance {np.var(sample):.4f}")
print(f"after:  mean {np.mean(inputs['input_values'][0]):+.4f}, variance {np.var(inputs['input_values'][0]):.4f}")
'''),
    md("""
## Preprocessing, broken clip included

Each clip is decoded at 16 kHz, truncated to `max_seconds` and normalised: 30 s in the published
recipe (GTZAN's clip length; longer inputs cost memory for nothing), the first 10 s for the small
offline stand-in. The settings come from `configs/gtzan_finetune.yaml` (more on it below). `AudioPreprocessor` does this on the fly, when a batch is
needed, instead of writing every clip as floats to disk first. A clip that cannot be decoded is
logged once, counted and skipped; training carries on.
"""),
    code('''
from course_utils.preprocessing import AudioPreprocessor, with_preprocessing
from course_utils.train import load_config

cfg = load_config()  # the published recipe plus the profiles that match this machine
MAX_SECONDS = cfg.max_seconds
print(f"truncating to {MAX_SECONDS:g} s")
prep = AudioPreprocessor(feature_extractor, label_column="genre", id_column="file", max_seconds=MAX_SECONDS,
                         extractor_kwargs={"max_length": int(sampling_rate * MAX_SECONDS), "truncation": True})
gtzan_encoded = {split: with_preprocessing(gtzan[split], prep) for split in gtzan}
'''),
    md("The model's head needs to know the label names, in both directions:"),
    code(f'''
{CHECK}
id2label = {{i: id2label_fn(i) for i in range(len(gtzan["train"].features["genre"].names))}}
label2id = {{name: i for i, name in id2label.items()}}
print(id2label[7], label2id["pop"])
''', expect="pop 7"),
    md("""
## The model

`AutoModelForAudioClassification` loads the pre-trained encoder and adds a fresh classification
head with ten outputs. The head's weights are newly initialised: that is exactly what
fine-tuning trains. (Transformers warns about it when it loads the model; the setup cell turned
library warnings off.)
"""),
    code('''
from transformers import AutoModelForAudioClassification

set_seed(42)
model = AutoModelForAudioClassification.from_pretrained(model_id, num_labels=len(id2label),
                                                        label2id=label2id, id2label=id2label)
print(f"{type(model).__name__}: {model.num_parameters() / 1e6:.1f} M parameters")
'''),
    md("""
## Training arguments

The published settings (GPU): learning rate 5e-5, batch size 8, 10 epochs, 10 % warm-up, mixed
precision, the best epoch kept. They live in `configs/gtzan_finetune.yaml`, which the script
`python -m course_utils.train` reads too. Profiles in that file adapt them to where the lesson runs:

- `cpu` (no GPU): 3 epochs, so the lesson takes minutes;
- `standin` (offline): a larger learning rate, a fourth epoch and the first 10 s of each song for the small stand-in;
- `tiny` (CI): the tiny stand-ins, in seconds.
"""),
    code('''
print("profiles applied:", ", ".join(cfg.applied_profiles) or "none (the published recipe)")
print(f"epochs {cfg.num_epochs:g}, learning rate {cfg.lr:g}, batch size {cfg.batch_size}, songs cut at {cfg.max_seconds} s")
'''),
    md("""
`training_args` builds an ordinary `TrainingArguments` with today's names (`eval_strategy`, not
`evaluation_strategy`; warm-up as `warmup_steps`, where a float below 1 is a fraction of all
training steps). It turns on bf16/fp16 only when there is a GPU.
"""),
    code('''
import tempfile
from pathlib import Path
from transformers import TrainingArguments
from course_utils.training import configure_threads, training_args

if not torch.cuda.is_available():
    configure_threads()  # one thread on a small shared machine: see course_utils.training
# Checkpoints and logs go to a scratch folder; its name is also the Hub repo name if you push.
output_dir = Path(tempfile.gettempdir()) / "audio-course" / "distilhubert-finetuned-gtzan"
args = training_args(output_dir, num_epochs=cfg.num_epochs, lr=cfg.lr, batch_size=cfg.batch_size,
                     grad_accum=cfg.grad_accum, warmup=cfg.warmup, seed=cfg.seed, logging_steps=cfg.logging_steps,
                     save=cfg.save,  # a checkpoint per epoch, the best one reloaded at the end
                     remove_unused_columns=False)  # the preprocessing needs the raw audio column
assert isinstance(args, TrainingArguments)  # change any field you like
print(f"{type(args).__name__}(eval_strategy={args.eval_strategy.value!r}, warmup_steps={args.warmup_steps}, "
      f"bf16={args.bf16}, fp16={args.fp16}, load_best_model_at_end={args.load_best_model_at_end})")
'''),
    md("""
`compute_metrics` turns the model's logits on the validation split into accuracy after each epoch.
"""),
    code('''
from course_utils.metrics import load_accuracy

metric = load_accuracy()

def compute_metrics(eval_pred):
    """Accuracy of the arg-max predictions."""
    predictions = np.argmax(eval_pred.predictions, axis=1)
    return metric.compute(predictions=predictions, references=eval_pred.label_ids)
'''),
    md("## Train"),
    code('''
from transformers import Trainer
from course_utils.training import guard_loss_scaling

guard_loss_scaling(model)  # a transformers quirk: see its docstring (matters with several GPUs or grad_accum)
trainer = Trainer(
    model,
    args,
    train_dataset=gtzan_encoded["train"],
    eval_dataset=gtzan_encoded["test"],
    data_collator=prep.collate,
    processing_class=feature_extractor,
    compute_metrics=compute_metrics,
)
train_result = trainer.train()
for entry in trainer.state.log_history:  # the evaluation after each epoch
    if "eval_accuracy" in entry:
        print(f"epoch {entry['epoch']:.0f}: validation accuracy {entry['eval_accuracy']:.3f}, loss {entry['eval_loss']:.3f}")
print(f"{train_result.global_step} steps in {train_result.metrics['train_runtime']:.0f} s")
'''),
    code('''
print(f"undecodable clips: {len(prep.skips.bad)} ({', '.join(prep.skips.bad) or 'none'}), "
      f"skipped {prep.skips.failed} times in all (once per pass over the data)")
'''),
    md("""
## Evaluate: accuracy and confusion matrix

A caveat the published recipe shares: the best epoch was chosen on this same held-out split, so
the figure is a little optimistic. With more data, keep a third split for that choice.
"""),
    code('''
from course_utils.metrics import confusion

result = trainer.predict(gtzan_encoded["test"])
acc = result.metrics["test_accuracy"]
genres = [id2label[i] for i in range(len(id2label))]
predicted = [genres[i] for i in result.predictions.argmax(axis=1)]
references = [genres[i] for i in result.label_ids]
unscored = len(gtzan["test"]) - len(references)  # an undecodable song is skipped, not guessed
print(f"accuracy on {len(references)} held-out songs: {acc:.3f} (chance: {1 / len(genres):.3f})"
      + (f"; {unscored} undecodable song(s) of the split not scored" if unscored else ""))
display.plot_confusion(confusion(predicted, references, genres), genres, title="GTZAN, held-out 10 %")
'''),
    code('''
from course_utils.metrics import report_headline

headline = report_headline("05_finetune_distilhubert_gtzan", "accuracy", acc, n=len(references), chance=round(1 / len(genres), 3),
                           epochs=cfg.num_epochs)
'''),
    md("""
### What did pre-training buy?

Transfer learning is the point of starting from DistilHuBERT. To see it, run the same fine-tuning
from random weights, same data, same budget, and compare the accuracies. It takes as long as the
run above, so it is a command rather than a cell; run it in a terminal (in a checkout it reads
`configs/gtzan_finetune.yaml`, an installed package its built-in copy):

```bash
python -m course_utils.train init=random
```

Offline, the DistilHuBERT stand-in's build ran both with this recipe, on the same split, keeping
the last epoch rather than the best one (so its first figure can differ from yours above); its
model card (`README.md` in its folder) has the details:
"""),
    code('''
import json

if OFFLINE:  # only the offline stand-in's repository has this file
    from huggingface_hub import hf_hub_download

    card = Path(hf_hub_download(model_id, "standin_results.json"))
    for name, value in json.loads(card.read_text())["results"].items():
        if name.startswith("GTZAN"):
            print(f"{name}: {value:.3f}" if isinstance(value, float) and value <= 1 else f"{name}: {value}")
else:
    print("Online: run the command above to measure it.")
'''),
    md("""
## Save, reload, and classify with a pipeline

`save_model` writes the weights, the config with our label names, and the feature extractor.
Any `pipeline` can load that folder.
"""),
    code('''
from transformers import pipeline

saved = output_dir / "final"
trainer.save_model(saved)
classifier = pipeline("audio-classification", model=str(saved), device=DEVICE)
from course_utils import to_pipeline_input
# A song training never saw (found by file name: reading a broken row's audio would fail).
held_out = gtzan["test"][next(i for i, name in enumerate(gtzan["test"]["file"]) if name not in prep.skips.bad)]
print(display.format_topk(classifier(to_pipeline_input(held_out["audio"], sampling_rate), top_k=3), k=3,
                          truth=id2label_fn(held_out["genre"])))
'''),
    md("""
## Share it (optional, online only)

`trainer.push_to_hub` uploads the model with a model card. It is off by default: set
`PUSH_TO_HUB = True` after `hf auth login` in a terminal (or
`from huggingface_hub import notebook_login; notebook_login()` in a cell).
"""),
    code('''
PUSH_TO_HUB = False
if PUSH_TO_HUB and not OFFLINE:
    trainer.push_to_hub(dataset_tags="marsyas/gtzan", dataset="GTZAN", finetuned_from="ntu-spml/distilhubert",
                        tasks="audio-classification", model_name="distilhubert-finetuned-gtzan")
else:
    print("Not pushing to the Hub (PUSH_TO_HUB is False or we are offline).")
'''),
    md("""
## A demo

A gradio app with a listening grid of random songs and their genres, and a classifier that takes
an upload or the microphone. It runs in the background on this machine (127.0.0.1); open the link
or use it inline.
"""),
    code('''
from course_utils.demo import build_demo, launch_demo

demo = build_demo(classifier, dataset=gtzan["test"], label_column="genre")
url = launch_demo(demo)  # 127.0.0.1 only, no public link, returns at once
print("The demo is running at", url)
'''),
    md("When you are done, close the demo to free its port:"),
    code('''
demo.close()
'''),
    md("""
## Takeaways

- Fine-tuning = pre-trained encoder + new head + a little labelled data.
- Decode at the model's rate, normalise, truncate; skip the rare broken file instead of crashing.
- Measure on held-out data, save, reload into a pipeline, and put a demo in front of people.
"""),
]


NOTEBOOK_CELLS = {NB01: CELLS01, NB02: CELLS02, NB03: CELLS03, NB04: CELLS04, NB05: CELLS05}


def notebook(cells: list[dict]) -> dict:
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "colab": {"provenance": []},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render(cells: list[dict]) -> str:
    nb = notebook(cells)
    for i, cell in enumerate(nb["cells"]):
        cell["id"] = f"cell-{i:02d}"  # stable ids: a regenerated notebook is byte-identical
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the notebooks are up to date")
    args = parser.parse_args(argv)
    stale = []
    for name, cells in NOTEBOOK_CELLS.items():
        path = NOTEBOOKS / name
        text = render(cells)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print("out of date (run scripts/make_notebooks.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
