"""Lesson 1: intent classification on MINDS-14 with an XLS-R classifier."""

from __future__ import annotations

from nbcells import CHECK, code, header, headline, md

MINDS_INTENTS = ("abroad, address, app_error, atm_limit, balance, business_loan, card_issues, cash_deposit, "
                 "direct_debit, freeze, high_value_payment, joint_account, latest_transactions, pay_bill")

NAME = "01_intent_classification_minds14.ipynb"
CELLS = header(NAME, "Intent classification: what does the caller want?", """
A bank's phone line hears "I'd like to pay my electricity bill" and must route the call. That is
**intent classification**: one label per spoken utterance, chosen from a fixed set of intents. The
model never writes down the words; it maps the sound straight to the intent.

In this lesson we find a model on the Hub, load the MINDS-14 dataset (e-banking calls in 14
languages), listen to a call, classify it with a fine-tuned XLS-R model, and measure how often the
model is right.
""") + [
    md("""
## Find a model on the Hub

The Hub's model search filters by task and by the dataset a model was trained on. Here: audio
classification models trained on MINDS-14, most downloaded first. (Offline, the local Hub answers
the same search with its one stand-in.)
"""),
    code('''
from huggingface_hub import HfApi

for model in HfApi().list_models(pipeline_tag="audio-classification", trained_dataset="PolyAI/minds14",
                                 sort="downloads", limit=5):
    print(model.id)
'''),
    md("""
We take `anton-l/xtreme_s_xlsr_300m_minds14`: XLS-R (a wav2vec 2.0 model pre-trained on 128
languages) fine-tuned on all 14 languages of MINDS-14. Its model card reports an accuracy of
0.9033 over all MINDS-14 languages.
"""),
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

Each row holds the audio, its transcription and the intent. `row["audio"]` decodes on access:
`["array"]` gives the samples and `["sampling_rate"]` their rate. MINDS-14 is telephone audio at
8 kHz, so the spectrogram stops at 4 kHz.
"""),
    code('''
import IPython.display as ipd
from course_utils import display

example = minds[0]
print("Transcription:", example["english_transcription"])
print("Intent:       ", intents[example["intent_class"]])
print("Sampling rate:", example["audio"]["sampling_rate"], "Hz")
ipd.display(ipd.Audio(example["audio"]["array"], rate=example["audio"]["sampling_rate"]))
display.plot_clip(example["audio"], title="one MINDS-14 call")
'''),
    md("""
## Why an encoder is enough

XLS-R is an **encoder-only** Transformer: it turns the whole clip into a sequence of hidden states,
one every 20 ms. For classification those states are pooled (averaged over time) into one vector,
and a single linear layer maps that vector to 14 scores, one per intent. Nothing is generated word by word, so no
decoder is needed: one forward pass gives the label.
"""),
    md("""
## Classify it with a pipeline

`pipeline("audio-classification", ...)` wraps the feature extractor, the model and the softmax.
The real checkpoint is large (about 315 M parameters), so before loading it we ask whether it fits
this machine: on a CPU the lesson measures fewer calls, to finish in about 10 minutes, where a GPU
would classify all of them; offline the stand-in is small, so all calls run.
"""),
    code('''
import torch
from course_utils.sizing import plan_inference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
N_EVAL = {"tiny": 60, "course": 300}[SIZE]  # the calls we want to classify below
plan = plan_inference("anton-l/xtreme_s_xlsr_300m_minds14", N_EVAL, device=DEVICE, offline=OFFLINE)
print(plan.reason)
'''),
    code('''
from transformers import pipeline

classifier = pipeline("audio-classification", model="anton-l/xtreme_s_xlsr_300m_minds14", device=DEVICE,
                      **plan.load_kwargs)  # the dtype the plan chose
'''),
    code(f'''
{CHECK}
rate = classifier.feature_extractor.sampling_rate
print(type(classifier.model).__name__, "expects", rate, "Hz audio")
''', expect="Wav2Vec2ForSequenceClassification expects 16000 Hz audio"),
    md("""
Online this is the real XLS-R checkpoint, about 315 M parameters. Offline it is a stand-in: a much
smaller model of the same class, trained on this machine on synthetic voices. Count them:
"""),
    code('''
print(f"{classifier.model.num_parameters() / 1e6:.1f} M parameters (the real checkpoint: about 315 M)")
'''),
    md("""
The model wants 16 kHz, the calls are 8 kHz. `cast_column` with an `Audio` feature at the model's
rate makes 🤗 Datasets resample every clip as it decodes it.
"""),
    code('''
from datasets import Audio

minds = minds.cast_column("audio", Audio(sampling_rate=rate))
example = minds[0]
print(example["audio"]["sampling_rate"], "Hz")
'''),
    md("""
Now the pipeline takes the array as it is. `top_k=5` asks for the five most likely intents; the
output is a plain list of `{"label", "score"}` dicts, best first. (This call is in MINDS-14's
`train` split, which both the real checkpoint and the offline stand-in trained on, so expect it
right: the next section measures on calls the model has not learned.)
"""),
    code('''
predictions = classifier(example["audio"]["array"], top_k=5)
print("true intent:", intents[example["intent_class"]])
predictions
'''),
    md("""
## Measure: accuracy on many calls

One prediction proves nothing. We classify a seeded random sample of calls (as many as the plan
above allows) and count how often the top label is the true intent. The pipeline batches clips
when we feed it a generator.

MINDS-14 has only a `train` split, and the real checkpoint was fine-tuned on part of it, so online
we measure on an en-AU sample the model has seen: an optimistic figure. The offline stand-in records
its speakers in `path`: it never heard the voices of fold 4, so offline we measure on those held-out
speakers, across all its languages (`data_dir="all"`).
"""),
    code('''
if OFFLINE:
    pool = load_dataset("PolyAI/minds14", data_dir="all", revision="refs/convert/parquet", split="train")
    pool = pool.filter(lambda path: "/fold4-" in path, input_columns="path")
    EVAL_SET = "held-out speakers (fold 4) of all the stand-in's languages"
else:
    pool = minds
    EVAL_SET = "en-AU train split (the model trained on it: optimistic)"
sample = pool.shuffle(seed=0).select(range(min(plan.n_clips, len(pool))))  # the plan's count
sample = sample.cast_column("audio", Audio(sampling_rate=rate))

def clips(rows):
    for row in rows:
        yield row["audio"]["array"]

predicted = [out[0]["label"] for out in classifier(clips(sample), batch_size=plan.batch_size, top_k=1)]
references = [intents[i] for i in sample["intent_class"]]
'''),
    code('''
from collections import Counter
from sklearn.metrics import accuracy_score

acc = accuracy_score(references, predicted)
commonest, count = Counter(references).most_common(1)[0]
print(f"{EVAL_SET}: {len(references)} calls")
print(f"  {acc:.3f}  accuracy, ± {(acc * (1 - acc) / len(references)) ** 0.5:.3f} (1 standard error)")
print(f"  {1 / len(intents):.3f}  chance (1 of {len(intents)} intents)")
print(f"  {count / len(references):.3f}  always answering '{commonest}', the commonest intent here")
print("  0.903  published for the real checkpoint (all 14 languages, its own test split)")
'''),
    md("""
### What to notice

The figure to beat is not zero but chance and the commonest intent: a model below those has learned
nothing. Offline the figure is the small stand-in's, on synthetic voices: close to the real
checkpoint's published 0.903, yet it measures something else (easy, synthesised calls), so the two
cannot be compared. Online it is high partly because the model trained on these calls.
"""),
    md("""
## Where does it go wrong?

A confusion matrix counts, for each true intent (row), which intent was predicted (column).
The diagonal is what the model got right.
"""),
    code('''
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

fig, ax = plt.subplots(figsize=(8, 8))
ConfusionMatrixDisplay.from_predictions(references, predicted, labels=intents, xticks_rotation="vertical",
                                        include_values=True, cmap="Blues", colorbar=False, ax=ax)
ax.set_title("MINDS-14: true vs predicted intent")
plt.show()
wrong_guesses = Counter(guess for truth, guess in zip(references, predicted) if truth != guess)
if wrong_guesses:
    fallback, n = wrong_guesses.most_common(1)[0]
    print(f"predicted most often by mistake: {fallback} ({n} of {sum(wrong_guesses.values())} wrong calls)")
'''),
    md("""
### What to notice

Read the cells off the diagonal: a column that collects many calls is an intent the model falls
back on when unsure. Confusions between intents close in meaning (`card_issues` and `freeze`,
`balance` and `latest_transactions`) are forgivable; between unrelated intents, the model is
hearing the voice or the line, not the request. Listen to one mistake:
"""),
    code('''
wrong = [i for i, (truth, guess) in enumerate(zip(references, predicted)) if truth != guess]
if wrong:
    call = sample[wrong[0]]
    print("Transcription:", call["transcription"])
    print("In English:   ", call["english_transcription"])
    print("True intent:  ", references[wrong[0]])
    print("Predicted:    ", predicted[wrong[0]])
    ipd.display(ipd.Audio(call["audio"]["array"], rate=rate))
else:
    print("No call in this sample was misclassified.")
'''),
    headline('''
from course_utils.metrics import report_headline

headline = report_headline("01_intent_classification_minds14", "accuracy", acc, n=len(references),
                           chance=round(1 / len(intents), 3), commonest=round(count / len(references), 3),
                           split=EVAL_SET)
'''),
    md("""
## Takeaways

- The Hub's filters (task, dataset) find a fine-tuned checkpoint; a pipeline turns it into a
  classifier in one line.
- An encoder plus one linear head is all classification needs; the input must be at the model's
  sampling rate (`cast_column` with `Audio(sampling_rate=...)`).
- Judge a model by accuracy over many calls the model has not learned, next to chance and the
  commonest class, never by one prediction.
"""),
    md("""
## Exercise

The checkpoint is multilingual. Load another language of MINDS-14 (for example
`data_dir="fr-FR"`), classify a sample of its calls the same way, and compare the accuracy with
en-AU's (offline: with the all-language figure above). Is the model as good in every language?
(Offline, the stand-in has only some of the 14 languages, fr-FR among them. A solution is in
`solutions.ipynb`.)
"""),
]


# The closing exercise's solution, for notebooks/solutions.ipynb (written with the lesson).
SOLUTION: list[dict] = [
    md("## Lesson 1: Intent classification on MINDS-14"),
    md("""
Classify a sample of calls in another language (fr-FR) and compare its accuracy with en-AU's,
measured the same way. Offline, as in the lesson, we keep the stand-in's held-out speakers (fold 4).
"""),
    code('''
import torch
from datasets import Audio, load_dataset
from sklearn.metrics import accuracy_score
from transformers import pipeline

from course_utils.sizing import plan_inference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
model_id = "anton-l/xtreme_s_xlsr_300m_minds14"
plan = plan_inference(model_id, 2 * {"tiny": 40, "course": 60}[SIZE], device=DEVICE, offline=OFFLINE)  # two languages
print(plan.reason)
classifier = pipeline("audio-classification", model=model_id, device=DEVICE, **plan.load_kwargs)
rate = classifier.feature_extractor.sampling_rate
N = max(1, plan.n_clips // 2)

def language_accuracy(config):
    calls = load_dataset("PolyAI/minds14", data_dir=config, revision="refs/convert/parquet", split="train")
    if OFFLINE:  # the stand-in never heard fold 4's speakers
        calls = calls.filter(lambda path: "/fold4-" in path, input_columns="path")
    calls = calls.shuffle(seed=0).select(range(min(N, len(calls))))
    calls = calls.cast_column("audio", Audio(sampling_rate=rate))
    intents = calls.features["intent_class"].names
    outputs = classifier([row["audio"]["array"] for row in calls], batch_size=plan.batch_size, top_k=1)
    predicted = [out[0]["label"] for out in outputs]
    return accuracy_score([intents[i] for i in calls["intent_class"]], predicted), len(calls)

for config in ["en-AU", "fr-FR"]:
    acc, n = language_accuracy(config)
    print(f"{config}: accuracy {acc:.3f} on {n} calls (chance {1 / 14:.3f})")
'''),
    md("""
With a few dozen calls per language, differences of a few points are noise: compare languages only
when the gap is larger than that, or score more calls.
"""),
]
