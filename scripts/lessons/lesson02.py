"""Lesson 2: keyword spotting on Speech Commands with an Audio Spectrogram Transformer."""

from __future__ import annotations

from nbcells import CHECK, code, header, headline, md

NAME = "02_keyword_spotting_speech_commands.ipynb"
CELLS = header(NAME, "Keyword spotting: Speech Commands", """
**Keyword spotting** listens for short spoken commands, like "Hey Siri" or "stop". The model sees a
one-second clip and says which word it heard, or that it heard something else. It must be small
and fast, because it runs all the time.

We use Speech Commands v0.02 and an Audio Spectrogram Transformer (AST) fine-tuned on it: an
accurate reference model (about 86 M parameters), far larger than what an always-on device would run.
""") + [
    md("""
## Stream the dataset

With `streaming=True` nothing is downloaded up front: rows arrive as we iterate, which is handy
for a large dataset when we only need a few examples. Speech Commands' repository holds a loading
script, which today's 🤗 Datasets refuses to run, so we read the Hub's parquet conversion of it
(the branch `refs/convert/parquet`; `data_dir` picks the version).
"""),
    code('''
import IPython.display as ipd
from datasets import load_dataset
from course_utils import display

speech_commands = load_dataset("google/speech_commands", data_dir="v0.02", revision="refs/convert/parquet",
                               split="validation", streaming=True)
labels = speech_commands.features["label"].names
first = next(iter(speech_commands))
print(first["file"], "->", labels[first["label"]], "at", first["audio"]["sampling_rate"], "Hz")
ipd.display(ipd.Audio(first["audio"]["array"], rate=first["audio"]["sampling_rate"]))
display.plot_clip(first["audio"], title=f"'{labels[first['label']]}'")
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
    md("""
## Classify a clip with AST

AST turns the clip into a log-mel spectrogram, cuts it into patches like an image, and runs a
Transformer over the patches. The pipeline's own feature extractor computes the spectrogram.

Before loading the real checkpoint (about 86 M parameters) we ask whether it fits this machine and
how many clips fit about 10 minutes on a CPU (a GPU would classify all of them); offline the
stand-in is small, so all clips run.
"""),
    code('''
import torch
from course_utils.sizing import plan_inference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
N_EVAL = {"tiny": 40, "course": 500}[SIZE]  # the clips we want to classify below
plan = plan_inference("MIT/ast-finetuned-speech-commands-v2", N_EVAL, device=DEVICE, offline=OFFLINE)
print(plan.reason)
'''),
    code('''
from transformers import pipeline

classifier = pipeline("audio-classification", model="MIT/ast-finetuned-speech-commands-v2", device=DEVICE,
                      **plan.load_kwargs)  # the dtype the plan chose
'''),
    code(f'''
{CHECK}
rate = classifier.feature_extractor.sampling_rate
print(type(classifier.model).__name__, "expects", rate, "Hz audio")
''', expect="ASTForAudioClassification expects 16000 Hz audio"),
    md("""
Online this is the real AST. Offline it is a stand-in: a tiny model of the same class, trained on
this machine on synthetic voices, so its figures say nothing about the real one's. Its size:
"""),
    code('''
print(f"{classifier.model.num_parameters() / 1e6:.2f} M parameters (the real checkpoint: about 86 M)")
'''),
    md("""
Speech Commands is recorded at 16 kHz, the model's rate, but we do not rely on it: `cast_column`
with an `Audio` feature at the model's rate makes 🤗 Datasets resample while it decodes (it works on
a streamed dataset too). The pipeline then takes the array as it is; its raw output is a list of
`{"label", "score"}` dicts, best first.
"""),
    code('''
from datasets import Audio

speech_commands = speech_commands.cast_column("audio", Audio(sampling_rate=rate))
sample = next(iter(speech_commands))
print("true label:", labels[sample["label"]])
classifier(sample["audio"]["array"], top_k=5)
'''),
    md("""
## What does it hear when nobody speaks?

One second of faint noise, with no word in it (the player keeps its real, quiet level):
"""),
    code('''
import numpy as np

quiet = np.random.default_rng(0).normal(0, 0.003, rate).astype(np.float32)
ipd.display(ipd.Audio(quiet, rate=rate, normalize=False))
[(p["label"], round(p["score"], 3)) for p in classifier(quiet, top_k=3)]  # label, score
'''),
    md("""
### What to notice

The model names a word anyway: a classifier must choose among its labels, and the real AST has no
`_silence_` label, so noise lands on some word. An always-on spotter needs a "no speech" class
and a confidence threshold, or it fires commands at the hum of the fridge. Compare the top score
here with the one for the spoken word above.
"""),
    md("""
The model can only predict the labels it was trained with. Silence clips have no right answer for
it, so we leave out dataset labels the model does not have, and say which:
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
the whole validation split (about 10,000 clips online, a few hundred MB).
"""),
    code('''
stream = speech_commands.shuffle(seed=0, buffer_size=10_000).filter(lambda row: labels[row["label"]] in model_labels)
references = []

def clips(rows):
    for row in rows.take(plan.n_clips):  # the plan's count
        references.append(labels[row["label"]])
        yield row["audio"]["array"]

predicted = [out[0]["label"] for out in classifier(clips(stream), batch_size=plan.batch_size, top_k=1)]
'''),
    code('''
from collections import Counter
from sklearn.metrics import accuracy_score

def standard_error(p, n):
    return (p * (1 - p) / n) ** 0.5

acc = accuracy_score(references, predicted)
commonest, count = Counter(references).most_common(1)[0]
print(f"validation split: {len(references)} clips of {len(set(references))} of the model's {len(model_labels)} labels")
print(f"  {acc:.3f}  accuracy, ± {standard_error(acc, len(references)):.3f} (1 standard error)")
print(f"  {1 / len(model_labels):.3f}  chance (1 of {len(model_labels)} labels)")
print(f"  {count / len(references):.3f}  always answering '{commonest}', the commonest label here")
for kind, names in {"commands": labels[:10], "other words": labels[10:35]}.items():
    kept = [i for i, truth in enumerate(references) if truth in names]
    if kept:
        kind_acc = accuracy_score([references[i] for i in kept], [predicted[i] for i in kept])
        print(f"  {kind_acc:.3f}  accuracy on the {len(kept)} clips of {kind}, ± {standard_error(kind_acc, len(kept)):.3f}")
print("  0.981  published for the real checkpoint (Speech Commands v2)")
'''),
    md("""
### What to notice

Chance is about 3 %, and always answering the commonest word does little better: the labels are
nearly balanced. Commands and other words differ only if their accuracies differ by more than
about two standard errors. Offline the figure is the small stand-in's, below the real AST's
published 0.981; online, expect the real model near that figure.
"""),
    md("""
## Where does it go wrong?

Rows are true labels, columns predictions; only the labels that occur are shown. With this many
labels the counts would be unreadable, so the colour alone shows them.
"""),
    code('''
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

shown = sorted(set(references) | set(predicted), key=labels.index)
fig, ax = plt.subplots(figsize=(9, 9))
ConfusionMatrixDisplay.from_predictions(references, predicted, labels=shown, xticks_rotation="vertical",
                                        include_values=False, cmap="Blues", colorbar=False, ax=ax)
ax.set_title("Speech Commands validation: true vs predicted")
plt.show()
mistakes = Counter((truth, guess) for truth, guess in zip(references, predicted) if truth != guess)
print("commonest mistakes (true -> predicted: clips):",
      ", ".join(f"{truth} -> {guess}: {n}" for (truth, guess), n in mistakes.most_common(5)))
'''),
    md("""
### What to notice

The commonest mistakes are listed under the matrix. For the real AST, words that sound alike
("off" and "up", "tree" and "three", "no" and "go") are the hard cases of keyword spotting; check
whether the stand-in's mistakes are such pairs. Mistaking one command for another makes a device
do the wrong thing; mistaking a command for an "other word" only makes it do nothing.
"""),
    headline('''
from course_utils.metrics import report_headline

headline = report_headline("02_keyword_spotting_speech_commands", "accuracy", acc, n=len(references),
                           chance=round(1 / len(model_labels), 3), commonest=round(count / len(references), 3),
                           split="validation")
'''),
    md("""
## Takeaways

- Streaming reads only the rows you use; `cast_column` resamples them as they stream.
- A classifier always answers: a keyword spotter needs "other word" and "no speech" classes, and a
  confidence threshold, or it will hear commands everywhere.
- Batched inference over an iterator is the fast way to score a split.
"""),
    md("""
## Exercise

Choose a confidence threshold: accept a command only when its top score is above, say, 0.5.
Classify a few noise clips (like `quiet`, at several loudness levels) and a few true command clips,
then count how many noise clips the threshold rejects and how many correctly recognised commands it
loses. Try several thresholds: which one would you ship? (A solution is in `solutions.ipynb`.)
"""),
]


# The closing exercise's solution, for notebooks/solutions.ipynb (written with the lesson).
SOLUTION: list[dict] = [
    md("## Lesson 2: Keyword spotting with a confidence threshold"),
    md("""
Sweep a confidence threshold over noise clips (which should be rejected) and command clips (which
should be kept, with the right word).
"""),
    code('''
import numpy as np
import torch
from datasets import Audio, load_dataset
from transformers import pipeline

classifier = pipeline("audio-classification", model="MIT/ast-finetuned-speech-commands-v2",
                      device="cuda" if torch.cuda.is_available() else "cpu")
rate = classifier.feature_extractor.sampling_rate

# Noise: white and brown (deeper, like traffic), one second each, from faint to loud.
rng = np.random.default_rng(0)
noise = []
for level in [0.001, 0.003, 0.01, 0.03, 0.1]:
    noise.append(rng.normal(0, level, rate).astype(np.float32))
    brown = np.cumsum(rng.normal(0, 1, rate))
    noise.append((level * (brown - brown.mean()) / brown.std()).astype(np.float32))

# Commands: a shuffled sample of the validation split (stored grouped by label: shuffle it whole).
stream = load_dataset("google/speech_commands", data_dir="v0.02", revision="refs/convert/parquet",
                      split="validation", streaming=True)
stream = stream.cast_column("audio", Audio(sampling_rate=rate))
labels = stream.features["label"].names
stream = stream.shuffle(seed=0, buffer_size=10_000).filter(lambda label: label < 10, input_columns="label")
rows = list(stream.take({"tiny": 20, "course": 100}[SIZE]))
truths = [labels[row["label"]] for row in rows]

noise_top = [out[0] for out in classifier(noise, batch_size=16, top_k=1)]
command_top = [out[0] for out in classifier([row["audio"]["array"] for row in rows], batch_size=16, top_k=1)]
'''),
    code('''
print("threshold   noise rejected   commands recognised")
for threshold in [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]:
    rejected = sum(top["score"] < threshold for top in noise_top)
    kept = sum(top["label"] == truth and top["score"] >= threshold for top, truth in zip(command_top, truths))
    print(f"{threshold:9.1f}   {rejected:>4} of {len(noise_top):<4}     {kept:>4} of {len(truths)}")
'''),
    md("""
A higher threshold rejects more noise but also drops true commands: pick the lowest threshold that
rejects (nearly) all the noise, and check what it costs in commands. Offline the tiny stand-in is
unsure even when it is right, so any threshold that rejects the noise also drops most commands; run
it online to see how the real AST separates them.
"""),
]
