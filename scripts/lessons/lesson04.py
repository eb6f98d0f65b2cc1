"""Lesson 4: zero-shot sound classification with CLAP on ESC-50."""

from __future__ import annotations

from nbcells import CHECK, code, header, headline, md

NAME = "04_zero_shot_clap_esc50.ipynb"
# The categories the CLAP stand-in never trained on (model_clap.UNSEEN; a test keeps them equal).
CLAP_UNSEEN = ["dog", "cat", "cow", "pig", "sheep", "hen", "rooster", "crow", "frog"]
CELLS = header(NAME, "Zero-shot audio classification with CLAP", """
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
## Listen at the right rate

The audio decodes when we read it: `["array"]` holds the samples and `["sampling_rate"]` the rate
they were recorded at, 44.1 kHz for ESC-50. A player must be told that rate. A common mistake
(made in an earlier version of this course) is to play them as if they were 16 kHz; hear both:
"""),
    code('''
import IPython.display

example = esc[0]
array, native_rate = example["audio"]["array"], example["audio"]["sampling_rate"]
print(f"{example['category']} ({example['filename']}): {len(array)} samples at {native_rate} Hz = "
      f"{len(array) / native_rate:.1f} s")
print("Right: played at", native_rate, "Hz")
IPython.display.display(IPython.display.Audio(array, rate=native_rate))
print(f"Wrong: the same samples told they are 16000 Hz ({len(array) / 16000:.1f} s)")
IPython.display.display(IPython.display.Audio(array, rate=16000))
'''),
    md("""
**What to notice:** at the wrong rate the clip lasts 2.8 times longer and every frequency drops by
the same factor (about an octave and a half): the sound turns slow, low and murky. A model fed
samples at the wrong rate hears the same distortion, and nothing raises an error.
"""),
    code('''
from course_utils.display import plot_clip

plot_clip(example["audio"], title=example["category"])
'''),
    md("""
## The model and its sampling rate

Before loading the real checkpoint (about 150 M parameters) we ask whether it fits this machine
and how many clips fit about 10 minutes on a CPU (a GPU would embed all of them); offline the
stand-in is small, so all clips run.
"""),
    code('''
import torch
from course_utils.sizing import plan_inference

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
N_EVAL = {"tiny": 40, "course": 400}[SIZE]  # the clips we want to classify below
plan = plan_inference("laion/clap-htsat-unfused", N_EVAL, device=DEVICE, offline=OFFLINE)
print(plan.reason)
'''),
    code('''
from transformers import ClapModel, ClapProcessor

checkpoint = "laion/clap-htsat-unfused"
model = ClapModel.from_pretrained(checkpoint, **plan.load_kwargs).to(DEVICE).eval()  # the plan's dtype
processor = ClapProcessor.from_pretrained(checkpoint)
'''),
    code(f'''
{CHECK}
MODEL_RATE = processor.feature_extractor.sampling_rate
print(f"ESC-50 clips are recorded at {{native_rate}} Hz; CLAP expects {{MODEL_RATE}} Hz")
''', expect="ESC-50 clips are recorded at 44100 Hz; CLAP expects 48000 Hz"),
    md("""
The zero-shot pipeline takes a bare array and assumes it is at the model's rate: 44.1 kHz samples
would reach it 9 % too fast. `cast_column` makes 🤗 Datasets decode every clip at 48 kHz from now
on. (Offline, this clip is from a recording the stand-in trained on, so expect it right; the next
section measures on recordings it never heard.) The pipeline's raw answer is a list of dicts:
"""),
    code('''
from datasets import Audio
from transformers import pipeline

esc = esc.cast_column("audio", Audio(sampling_rate=MODEL_RATE))  # decode at 48 kHz
zero_shot = pipeline("zero-shot-audio-classification", model=model, feature_extractor=processor.feature_extractor,
                     tokenizer=processor.tokenizer, device=DEVICE)
own = example["category"].replace("_", " ")
candidates = [own] + [c for c in ["dog", "vacuum cleaner", "rain", "siren"] if c != own][:3]  # four different texts
zero_shot(esc[0]["audio"]["array"], candidate_labels=candidates, hypothesis_template="Sound of a {}")
'''),
    md("""
**What to notice:** the scores add up to 1 over the four texts we wrote: the model only compares
the candidates it is given. A label left out can never win, and every label we add competes.
"""),
    md(f"""
## Zero-shot accuracy over all the categories

Now every clip of ESC-50's fifth fold competes against every category present in the dataset.
CLAP maps a clip and a text into the same embedding space; the prediction is the prompt whose
embedding is closest (cosine similarity) to the clip's. We embed the clips once
(`get_audio_features`); then any set of prompts (`get_text_features`) is cheap.

Offline, the stand-in CLAP was trained on folds 1-4, but never on nine animals
({", ".join(CLAP_UNSEEN)}). For the other categories it has heard other recordings of the same
sounds, which a real zero-shot model has not, so we score the two kinds apart too: the nine
animals on all their clips, from every fold (it trained on none of them), the others on fold 5.
"""),
    code('''
import numpy as np
import torch.nn.functional as F

fold5 = esc.filter(lambda fold: fold == 5, input_columns="fold")  # ESC-50's last fold; the stand-in never trained on it
sample = fold5.shuffle(seed=0).select(range(min(plan.n_clips, len(fold5))))  # the plan's count
references = np.array(sample["category"])
print(f"fold 5: {len(fold5)} clips of {len(set(fold5['category']))} categories; we classify {len(sample)}")

@torch.no_grad()
def embed_audio(dataset, batch_size=16):
    parts = []
    for lo in range(0, len(dataset), batch_size):
        batch = [audio["array"] for audio in dataset[lo:lo + batch_size]["audio"]]  # 48 kHz: the column is cast
        inputs = processor(audio=batch, sampling_rate=MODEL_RATE, return_tensors="pt").to(DEVICE)
        parts.append(F.normalize(model.get_audio_features(**inputs).pooler_output, dim=-1))
    return torch.cat(parts)

@torch.no_grad()
def embed_text(prompts):
    inputs = processor(text=prompts, return_tensors="pt", padding=True).to(DEVICE)
    return F.normalize(model.get_text_features(**inputs).pooler_output, dim=-1)

audio_embeddings = embed_audio(sample, batch_size=plan.batch_size)
print(audio_embeddings.shape, "(clips x embedding size)")
'''),
    md("""
Accuracy needs yardsticks: **chance** (a uniform guess among the candidates) and the
**commonest-category baseline** (always answering the category with the most clips). With `n`
clips, a measured accuracy `p` is uncertain by about one **standard error**, `sqrt(p(1-p)/n)`.
"""),
    code('''
from collections import Counter

def predict(embeddings, template, clean=True):
    """Each clip's closest category when every category is written as `template` (with or without underscores)."""
    names = [c.replace("_", " ") if clean else c for c in categories]
    similarity = embeddings @ embed_text([template.format(name) for name in names]).T
    return np.array(categories)[similarity.argmax(dim=-1).cpu().numpy()]

def standard_error(p, n):
    return np.sqrt(p * (1 - p) / n)

predicted = predict(audio_embeddings, "Sound of a {}")
correct = predicted == references
acc = correct.mean()
commonest, most = Counter(references.tolist()).most_common(1)[0]
print(f"ESC-50 fold 5, {len(references)} clips, {len(categories)} candidate categories, prompt 'Sound of a {{}}':")
print(f"  accuracy {acc:.3f} ± {standard_error(acc, len(references)):.3f}; chance {1 / len(categories):.3f}; "
      f"always answering {commonest!r}: {most / len(references):.3f}")
'''),
    code(f'''
parts = {{}}  # offline: (accuracy, clips) of the two kinds of category
if OFFLINE:
    # The stand-in trained on no clip of these nine, in any fold: all their clips measure zero-shot.
    unseen = {CLAP_UNSEEN!r}
    animals = esc.filter(lambda category: category in unseen, input_columns="category")
    animal_references = np.array(animals["category"])
    animal_hits = predict(embed_audio(animals, batch_size=plan.batch_size), "Sound of a {{}}") == animal_references
    trained_on = ~np.isin(references, unseen)  # fold 5's clips of categories it trained on (folds 1-4)
    for key, name, hits, refs in [
            ("never_trained", "never trained on (zero-shot), every fold", animal_hits, animal_references),
            ("trained_on", "trained on other recordings, fold 5", correct[trained_on], references[trained_on])]:
        n, value = len(hits), hits.mean() if len(hits) else float("nan")
        if n:
            parts[key] = (round(float(value), 3), n)
            print(f"{{name:>40}}: accuracy {{value:.3f}} ± {{standard_error(value, n):.3f}} "
                  f"(n = {{n}} clips of {{len(set(refs))}} categories; chance {{1 / len(categories):.3f}})")
        else:
            print(f"{{name:>40}}: no clips")
else:
    print(f"Online every category is zero-shot for CLAP: all {{len(references)}} clips measure it.")
'''),
    md("""
**What to notice:** offline, only the never-trained animals measure zero-shot; on the others the
stand-in has heard the same kind of sound before, so the figure over fold 5 flatters it. The gap
between the two lines is what training on a category buys a small model. Online every category is
zero-shot for the real CLAP, which reports about 0.91-0.93 top-1 on ESC-50.
"""),
    md("""
## The wording of the labels matters

The text tower only sees words. Raw dataset names such as `sea_waves`, a bare name, and a full
sentence can change the accuracy. But picking the best of five wordings on the clips we report
would flatter the winner, so we split the clips into two seeded halves: choose the wording on one
half, report every wording on the other.
"""),
    code('''
TEMPLATES = [("{}", False), ("{}", True), ("Sound of a {}", True), ("This is a sound of {}.", True),
             ("a recording of {}", True)]
order = np.random.default_rng(0).permutation(len(references))
choose, report = order[:len(order) // 2], order[len(order) // 2:]
results = {}
for template, clean in TEMPLATES:
    hits = predict(audio_embeddings, template, clean) == references
    results[template.format("sea waves" if clean else "sea_waves")] = (hits[choose].mean(), hits[report].mean())
chosen = max(results, key=lambda shown: results[shown][0])
print(f"wording chosen on {len(choose)} clips: {chosen!r}")
print(f"accuracy of every wording on the other {len(report)} clips (±1 standard error):")
for shown, (_, value) in results.items():
    print(f"  {shown!r:32} {value:.3f} ± {standard_error(value, len(report)):.3f}" + ("  <- chosen" if shown == chosen else ""))
values = [value for _, value in results.values()]
noise = 2 * max(standard_error(value, len(report)) for value in values)
print(f"largest difference {max(values) - min(values):.3f}: "
      + ("within" if max(values) - min(values) <= noise else "beyond") + f" two standard errors ({noise:.3f})")
'''),
    md("""
**What to notice:** a difference smaller than about two standard errors could be luck of the
clips, so at this sample size most wordings cannot be told apart. The chosen wording's score on
the other half is an honest estimate; its score on the half that chose it would not be. (Offline,
most of these clips are of categories the stand-in trained on, so this compares wordings for
trained-on sounds; for the real CLAP, published comparisons find a few points between wordings.)
"""),
    code('''
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

fig, ax = plt.subplots(figsize=(9, 9), layout="constrained")
ConfusionMatrixDisplay.from_predictions(references, predicted, labels=categories, xticks_rotation="vertical",
                                        include_values=False, colorbar=False, cmap="Blues", ax=ax)
ax.set_title('zero-shot on ESC-50 fold 5, "Sound of a {}": true (rows) vs predicted (columns)')
plt.show()
'''),
    md("""
**What to notice:** dark cells off the diagonal show which sounds CLAP takes for which; a column
with many dark cells is a description that attracts clips of other sounds. With few clips per
category, one clip can make a cell.
"""),
    headline('''
from course_utils.metrics import report_headline

headline = report_headline("04_zero_shot_clap_esc50", "accuracy", float(acc), n=len(references),
                           categories=len(categories), chance=round(1 / len(categories), 3), prompt="Sound of a {}",
                           commonest_baseline=round(most / len(references), 3),
                           never_trained=parts.get("never_trained"), trained_on=parts.get("trained_on"))
'''),
    md("""
## Why not always zero-shot?

CLAP learned from sounds and their captions, so it knows what captions say ("a dog barks", "rain
on a roof") and little of what they rarely say: which language is spoken, who is speaking, what a
caller wants. Those tasks need the fine-tuned classifiers of lessons 1-3. And on a fixed label set
with labelled examples, fine-tuning usually wins: an AST fine-tuned on ESC-50 reports 0.956
against CLAP's zero-shot 0.91-0.93. Zero-shot pays off when the labels change or no labelled audio
exists.
"""),
    md("""
## Takeaways

- Zero-shot classification needs no training data for your labels, only good descriptions.
- Resample to the model's rate (48 kHz for CLAP) and play at the clip's own rate (44.1 kHz here).
- Prompt wording is a parameter: choose it on other clips than those you report on, and give
  the standard error.
- Zero-shot is only measured on labels the model never trained on.
"""),
    md("""
## Exercise

The candidates decide what can win. Add a label that no ESC-50 clip has, such as "violin", to the
categories: which clips does it steal, and how much accuracy does it cost? (A solution is in
`solutions.ipynb`.)
"""),
]


# The closing exercise's solution, for notebooks/solutions.ipynb (written with the lesson).
SOLUTION: list[dict] = [
    md("""
## Lesson 4: Zero-shot audio classification with CLAP

Add a candidate label that no ESC-50 clip has ("violin") and see which clips it steals and what it
costs in accuracy.
"""),
    code('''
import numpy as np
import torch
import torch.nn.functional as F
from datasets import Audio, load_dataset
from transformers import ClapModel, ClapProcessor

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
checkpoint = "laion/clap-htsat-unfused"
model = ClapModel.from_pretrained(checkpoint).to(DEVICE).eval()
processor = ClapProcessor.from_pretrained(checkpoint)
rate = processor.feature_extractor.sampling_rate

esc = load_dataset("ashraq/esc50", split="train").cast_column("audio", Audio(sampling_rate=rate))
categories = sorted(set(esc["category"]))
fold5 = esc.filter(lambda fold: fold == 5, input_columns="fold")
clips = fold5.shuffle(seed=0).select(range(min({"tiny": 40, "course": 200}[SIZE], len(fold5))))
references = np.array(clips["category"])
with torch.no_grad():
    parts = []
    for lo in range(0, len(clips), 16):
        batch = [audio["array"] for audio in clips[lo:lo + 16]["audio"]]
        inputs = processor(audio=batch, sampling_rate=rate, return_tensors="pt").to(DEVICE)
        parts.append(F.normalize(model.get_audio_features(**inputs).pooler_output, dim=-1))
    audio_embeddings = torch.cat(parts)
'''),
    code('''
for extra in [[], ["violin"]]:
    labels = categories + extra
    with torch.no_grad():
        inputs = processor(text=[f"Sound of a {label.replace('_', ' ')}" for label in labels], return_tensors="pt",
                           padding=True).to(DEVICE)
        text_embeddings = F.normalize(model.get_text_features(**inputs).pooler_output, dim=-1)
    predicted = np.array(labels)[(audio_embeddings @ text_embeddings.T).argmax(dim=-1).cpu().numpy()]
    print(f"{len(labels)} candidates: accuracy {np.mean(predicted == references):.3f} on {len(references)} clips")
    if extra:
        print(f"  clips answered {extra[0]!r}:", sorted(references[predicted == extra[0]].tolist()) or "none")
'''),
    md("""
Every clip the new label takes was either right before (a loss) or wrong anyway. A label close to
real categories in meaning steals more than an unrelated one: try "an animal" or "water".
"""),
]
