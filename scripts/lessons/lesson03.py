"""Lesson 3: spoken language identification on FLEURS with a Whisper classifier."""

from __future__ import annotations

from nbcells import CHECK, code, header, headline, md

NAME = "03_language_identification_fleurs.ipynb"
CELLS = header(NAME, "Language identification: FLEURS", """
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
'''),
    md("""
The audio decodes when we read it: `["array"]` holds the samples and `["sampling_rate"]` their rate
(16 kHz for all of FLEURS). `IPython.display.Audio` plays an array at the rate we give it.
"""),
    code('''
import IPython.display
from course_utils.display import plot_clip

audio = sample["audio"]
plot_clip(audio, title=sample["language"])
IPython.display.Audio(audio["array"], rate=audio["sampling_rate"])
'''),
    code(f'''
{CHECK}
codes = [name for name in lang_ids.names if name != "all"]  # the ClassLabel also names the `all` config
print(len(codes), "language codes, e.g.", ", ".join(codes[:4]), "...")
''', expect="102 language codes, e.g. af_za, am_et, ar_eg, as_in ..."),
    md("""
## Classify with the Whisper LID model

The real checkpoint is large (about 300 M parameters) and Whisper pads every clip to 30 s, so before
loading it we ask whether it fits this machine: on a CPU the lesson measures fewer clips, to finish
in about 10 minutes, where a GPU would classify all of them; offline the stand-in is small, so all
clips run.
"""),
    code('''
import torch
from course_utils.sizing import plan_inference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
N_EVAL = {"tiny": 75, "course": 500}[SIZE]  # the test clips we want to classify below (25 languages)
plan = plan_inference("sanchit-gandhi/whisper-medium-fleurs-lang-id", N_EVAL, device=DEVICE, offline=OFFLINE)
print(plan.reason)
'''),
    code('''
from transformers import pipeline

classifier = pipeline("audio-classification", model="sanchit-gandhi/whisper-medium-fleurs-lang-id", device=DEVICE,
                      **plan.load_kwargs)  # the dtype the plan chose
'''),
    code(f'''
{CHECK}
rate = classifier.feature_extractor.sampling_rate
print(type(classifier.model).__name__, "expects", rate, "Hz audio")
''', expect="WhisperForAudioClassification expects 16000 Hz audio"),
    md("""
FLEURS is at the model's rate already, so the pipeline can take the bare array. `top_k=5` asks for
the five likeliest languages; this is the pipeline's raw answer, a list of dicts:
"""),
    code('''
predictions = classifier(sample["audio"]["array"], top_k=5)
predictions
'''),
    md("""
**What to notice:** the labels are language names, as in the dataset's `language` column, not
codes like `en_us`: compare like with like. The scores are probabilities over all the languages the
model knows, so the five shown need not add up to 1.
"""),
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
PER_LANG = max(1, plan.n_clips // len(languages))  # the plan's clips, shared out: every language keeps some
print(len(languages), "languages, up to", PER_LANG, "test clips each")
'''),
    md("""
`cast_column` makes 🤗 Datasets decode the audio at the rate we name (a no-op for FLEURS, which is
16 kHz already, but the line that keeps any other dataset right). Fed a generator, the pipeline
batches the clips:
"""),
    code('''
from datasets import Audio

def test_rows():
    for code in languages:  # one language folder at a time
        stream = load_dataset("google/fleurs", data_dir=code, revision=PARQUET, split="test", streaming=True)
        yield from stream.cast_column("audio", Audio(sampling_rate=rate)).take(PER_LANG)

def classify(rows):
    """Top-1 predictions and true languages for a stream of rows, classified in batches."""
    truth = []

    def arrays():
        for row in rows:
            truth.append(row["language"])
            yield row["audio"]["array"]

    predicted = [out[0]["label"] for out in classifier(arrays(), batch_size=plan.batch_size, top_k=1)]
    return predicted, truth

predicted, references = classify(test_rows())
'''),
    md("""
Accuracy needs two yardsticks: **chance** (a uniform guess among the languages evaluated) and the
**commonest-language baseline** (always answering the language with the most clips). With `n`
clips, a measured accuracy `p` is uncertain by about one **standard error**, `sqrt(p(1-p)/n)`.
"""),
    code('''
from collections import Counter

import numpy as np

def score(what, predicted, references):
    """Print accuracy ±1 standard error, chance and the commonest-language baseline; return the hits."""
    correct = np.array(predicted) == np.array(references)
    acc, n = correct.mean(), len(correct)
    counts = Counter(references)
    commonest, most = counts.most_common(1)[0]
    print(f"{what}: accuracy {acc:.3f} ± {np.sqrt(acc * (1 - acc) / n):.3f} on {n} clips of {len(counts)} languages")
    print(f"    chance {1 / len(counts):.3f}; always answering {commonest!r}: {most / n:.3f}")
    return correct

correct = score("FLEURS test split", predicted, references)
'''),
    md("""
**What to notice:** we took the same number of clips of every language, so here the
commonest-language baseline equals chance. Offline this is the stand-in's figure, a tiny
model trained in minutes on synthetic voices; the real checkpoint reports 0.8805 over all 102
FLEURS languages.
"""),
    md("""
Per language, each bar rests on only a few clips. The error bars show ±1 standard error: two bars
whose error bars overlap are not shown to differ.
"""),
    code('''
import matplotlib.pyplot as plt

truth = np.array(references)
names = sorted(set(references), key=lambda name: correct[truth == name].mean())
p = np.array([correct[truth == name].mean() for name in names])
n = np.array([(truth == name).sum() for name in names])
each = f"{n.min()}" if n.min() == n.max() else f"{n.min()}-{n.max()}"
fig, ax = plt.subplots(figsize=(7, 0.3 * len(names) + 1), layout="constrained")
ax.barh(names, p, xerr=np.sqrt(p * (1 - p) / n), capsize=2)
ax.set(xlim=(0, 1), xlabel="accuracy (±1 standard error)",
       title=f"accuracy per language ({each} test clips each)")
plt.show()
'''),
    md("""
**What to notice:** with 20 clips per language (the course size; the plot's title gives this run's,
fewer on a CPU with the real model) one clip moves a bar by 0.05 and the standard error is up to 0.11, so the ranking of neighbouring languages is mostly noise. A bar at 0 or 1 has no
error bar, yet 20 clips cannot show that a language is never or always right.
"""),
    md("Which languages does it take for which? Related languages (Russian and Ukrainian, say) are the usual suspects:"),
    code('''
from sklearn.metrics import ConfusionMatrixDisplay

shown = sorted(set(references) | set(predicted))  # the model may answer a language we did not test
fig, ax = plt.subplots(figsize=(9, 9), layout="constrained")
ConfusionMatrixDisplay.from_predictions(references, predicted, labels=shown, xticks_rotation="vertical",
                                        include_values=False, colorbar=False, cmap="Blues", ax=ax)
ax.set_title("FLEURS test: true (rows) vs predicted (columns) language")
plt.show()
'''),
    md("""
**What to notice:** a dark cell off the diagonal is a pair the model mixes up; a column with many
dark cells is a language it answers too readily. Columns for languages outside the 25 tested
appear only if the model answers them.
"""),
    md("""
## Long recordings: one window at a time

Whisper's encoder hears a fixed window: its feature extractor pads every input to 30 s and cuts off
the rest (the offline stand-in's window is 4 s). A longer recording classified in one call is judged
on its first window only. Let us glue a few English clips into one recording of more than 30 s and
look at what the model receives. (They are `train` clips, which the model may have learned: this
shows the mechanics, it measures nothing.)
"""),
    code('''
window_s = classifier.feature_extractor.chunk_length  # seconds the encoder sees
rows = load_dataset("google/fleurs", data_dir="en_us", revision=PARQUET, split="train", streaming=True)
pieces = []
for row in rows.cast_column("audio", Audio(sampling_rate=rate)):
    pieces.append(row["audio"]["array"])
    if sum(len(piece) for piece in pieces) > 35 * rate:
        break
recording = np.concatenate(pieces)
features = classifier.feature_extractor(recording, sampling_rate=rate, return_tensors="np")["input_features"]
print(f"recording: {len(recording) / rate:.1f} s; model input: {features.shape} (batch, mel bins, frames) = {window_s} s")
'''),
    md("""
So we cut the recording into chunks no longer than the window, classify all chunks in one batched
call (`top_k=None` returns every label's score) and average each language's score over the chunks:
"""),
    code('''
chunk_s = min(window_s, 10)  # any length up to the window: shorter chunks give more votes, each on less speech
chunks = [recording[start:start + chunk_s * rate] for start in range(0, len(recording), chunk_s * rate)]
chunks = [chunk for chunk in chunks if len(chunk) >= rate]  # drop a leftover under 1 s
chunk_scores = classifier(chunks, top_k=None, batch_size=plan.batch_size)
average = Counter()
for scores in chunk_scores:
    for entry in scores:
        average[entry["label"]] += entry["score"] / len(chunk_scores)
print(f"{len(chunks)} chunks of up to {chunk_s} s; each chunk's top language:", [s[0]["label"] for s in chunk_scores])
print("average over the chunks:", [(label, round(value, 3)) for label, value in average.most_common(3)])
whole = classifier(recording, top_k=1)[0]
print("one call on the whole recording (its first window only):", (whole["label"], round(whole["score"], 3)))
'''),
    md("""
**What to notice:** each chunk is one vote, and averaging the probabilities lets the confident
chunks outweigh an unsure one. The speech-recognition pipeline does this cutting for you
(`chunk_length_s=30`); the audio-classification pipeline does not, so for long audio you cut it
yourself.
"""),
    md("""
## Offline only: synthetic voices versus human speech

Offline, the stand-in model was trained on speech synthesised on this machine. Its `test` split is
synthesised too, by voices held out from training, so the figures above measure "new synthetic
voices". Offline there is also `course-standins/fleurs-human-speech`, a repository that only the
local Hub has (no such thing exists on the real Hub): recordings of people, for some of the
stand-in's languages, in FLEURS' columns. First, listen to a person and to the synthesiser reading
the same language:
"""),
    code('''
if OFFLINE:  # a stand-in-only repository: the real FLEURS is human speech already
    human = load_dataset("course-standins/fleurs-human-speech", split="test", streaming=True)
    human = human.cast_column("audio", Audio(sampling_rate=rate))
    person = next(iter(human))
    code = lang_ids.int2str(person["lang_id"])
    synthetic = next(iter(load_dataset("google/fleurs", data_dir=code, revision=PARQUET, split="test", streaming=True)))
    for who, row in [("a person", person), ("the synthesiser (test split)", synthetic)]:
        print(f"{row['language']}, read by {who}: {row['transcription']}")
        IPython.display.display(IPython.display.Audio(row["audio"]["array"], rate=row["audio"]["sampling_rate"]))
else:
    print("Online: every FLEURS clip is a person reading; there is no synthetic voice to compare.")
'''),
    md("""
**What to notice:** the synthesiser reads with an even, mechanical rhythm and a handful of voices;
a person brings their own pitch, pace, breath and room. A model that learned only synthetic voices
may have learned how the synthesiser renders each language rather than the language itself, and
that cue is absent from a person's voice.
"""),
    code('''
real_correct = None
if OFFLINE:
    real_predicted, real_references = classify(human.take({"tiny": 40, "course": 400}[SIZE]))
    real_correct = score("human speech (stand-in-only repository)", real_predicted, real_references)
    score("synthetic voices (the test split above)", predicted, references)
else:
    print("Online: the test figure above is already measured on human speech.")
'''),
    md("""
**What to notice:** offline, on people the stand-in is near chance and no better than always
answering the commonest language: it did not learn languages, it learned synthetic voices. The
real checkpoint was fine-tuned on thousands of human speakers, so online the test figure above is
already measured on human speech. Always test on what the model will really meet.
"""),
    headline('''
from course_utils.metrics import report_headline

headline = report_headline("03_language_identification_fleurs", "accuracy", float(correct.mean()), n=len(references),
                           chance=round(1 / len(languages), 3), languages=len(languages),
                           real_speech_accuracy=None if real_correct is None else round(float(real_correct.mean()), 3),
                           real_speech_n=None if real_correct is None else len(real_correct))
'''),
    md("""
## Takeaways

- A pipeline's labels can be names rather than codes; compare like with like.
- Report accuracy with its yardsticks (chance, the commonest class) and its standard error; per
  class, a handful of clips gives wide error bars.
- Whisper hears a fixed window; classify long audio chunk by chunk and average.
- Accuracy on data like the training data (here synthetic voices) says little about new
  conditions (human voices).
"""),
    md("""
## Exercise

Does the model need the whole sentence? Classify test clips of a few languages twice, once whole
and once cut to their first 2 seconds (`row["audio"]["array"][:2 * rate]`), and compare the two
accuracies with their standard errors. (A solution is in `solutions.ipynb`.)
"""),
]


# The closing exercise's solution, for notebooks/solutions.ipynb (written with the lesson).
SOLUTION: list[dict] = [
    md("""
## Lesson 3: Language identification

How does accuracy change when the model hears only the first 2 s of each test clip instead of the
whole clip?
"""),
    code('''
import numpy as np
import torch
from datasets import Audio, load_dataset
from transformers import pipeline

from course_utils.sizing import plan_inference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
LANGUAGES = ["de_de", "en_us", "es_419", "fr_fr", "it_it", "nl_nl", "pl_pl", "ru_ru", "sv_se", "uk_ua"]
model_id = "sanchit-gandhi/whisper-medium-fleurs-lang-id"
wanted = len(LANGUAGES) * {"tiny": 2, "course": 20}[SIZE]
plan = plan_inference(model_id, 2 * wanted, device=DEVICE, offline=OFFLINE)  # every clip is classified twice
print(plan.reason)
classifier = pipeline("audio-classification", model=model_id, device=DEVICE, **plan.load_kwargs)
rate = classifier.feature_extractor.sampling_rate

arrays, references = [], []
for code in LANGUAGES:
    stream = load_dataset("google/fleurs", data_dir=code, revision="refs/convert/parquet", split="test", streaming=True)
    for row in stream.cast_column("audio", Audio(sampling_rate=rate)).take(max(1, plan.n_clips // 2 // len(LANGUAGES))):
        arrays.append(row["audio"]["array"])
        references.append(row["language"])
'''),
    code('''
for seconds in [2, None]:
    clips = [array if seconds is None else array[:seconds * rate] for array in arrays]
    predicted = [out[0]["label"] for out in classifier(clips, batch_size=plan.batch_size, top_k=1)]
    acc = np.mean(np.array(predicted) == np.array(references))
    what = "whole clips" if seconds is None else f"first {seconds} s"
    print(f"{what:>12}: accuracy {acc:.3f} ± {np.sqrt(acc * (1 - acc) / len(references)):.3f} "
          f"on {len(references)} clips (chance {1 / len(set(references)):.3f})")
'''),
    md("""
Two seconds hold a few syllables; a whole FLEURS sentence lasts about 10 s, and Whisper hears up
to 30 s of it (the offline stand-in only its first 4 s). Expect the short clips to score lower, and
check whether the gap is larger than the standard errors before you believe it.
"""),
]
