"""Lesson 5: fine-tuning DistilHuBERT on GTZAN with Trainer, ending in a gradio demo."""

from __future__ import annotations

from nbcells import CHECK, code, header, headline, md

GENRES = "blues, classical, country, disco, hiphop, jazz, metal, pop, reggae, rock"
NAME = "05_finetune_distilhubert_gtzan.ipynb"
DEMO_IMAGE = "images/gtzan_demo.png"  # relative to notebooks/, where the lessons run

# The preprocessing, in the lesson and, unchanged, in the solution.
PREPROCESS = '''
def preprocess_function(batch):
    """Rows -> model inputs: the decoded songs truncated to max_length samples and normalised, and the label."""
    arrays = [x["array"] for x in batch["audio"]]
    inputs = feature_extractor(arrays, sampling_rate=sampling_rate, max_length=max_length, truncation=True,
                               return_attention_mask=True)
    inputs["label"] = batch["genre"]
    return inputs
'''.strip("\n")

# The filter that drops a clip soundfile cannot open: in the lesson and, unchanged, in the solution.
DECODES = '''
def decodes(audio):
    """True when soundfile can read the file's header and its first second."""
    source = io.BytesIO(audio["bytes"]) if audio["bytes"] else audio["path"]
    try:
        with sf.SoundFile(source) as f:
            f.read(frames=f.samplerate)
        return True
    except sf.LibsndfileError:
        return False
'''

CELLS = header(NAME, "Fine-tuning DistilHuBERT for music genres (GTZAN)", """
When no checkpoint does your task, you **fine-tune** one: take a model pre-trained on lots of
unlabelled audio, put a small classification head on top, and train on your labels. Here:
DistilHuBERT (a 23.5 M-parameter distilled HuBERT speech encoder) on GTZAN, 1,000 30-second songs
in ten genres. Then we evaluate it, save it, and put a demo in front of it.
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
## One broken file

One file of the original GTZAN, `jazz.00054.wav`, cannot be decoded. The Hub's copy simply left it
out (999 songs), so online nothing is dropped below. The offline stand-in keeps one broken clip
**on purpose**, to show what to do: a clip that cannot be decoded would stop training in the middle
of an epoch. So we check every file first, cheaply: with `Audio(decode=False)` the rows hold the
files' bytes, and soundfile reads each header and first second.
"""),
    code(f'''
import io

import soundfile as sf
from datasets import Audio
{DECODES}

encoded = gtzan.cast_column("audio", Audio(decode=False))  # the files' bytes: nothing is decoded
gtzan = encoded.filter(decodes, input_columns="audio")
for split in gtzan:
    dropped = sorted(set(encoded[split]["file"]) - set(gtzan[split]["file"]))
    print(f"{{split}}: kept {{len(gtzan[split])}} of {{len(encoded[split])}} songs; dropped: {{', '.join(dropped) or 'none'}}")
'''),
    md("""
## The feature extractor: rate and normalisation

DistilHuBERT was pre-trained on 16 kHz speech; GTZAN is 22.05 kHz. `cast_column` makes the
dataset decode at 16 kHz. The feature extractor then normalises each clip to zero mean and unit
variance (`do_normalize=True`), which keeps training stable.
"""),
    code('''
model_id = "ntu-spml/distilhubert"
'''),
    code(f'''
{CHECK}
from transformers import AutoFeatureExtractor

feature_extractor = AutoFeatureExtractor.from_pretrained(model_id, do_normalize=True, return_attention_mask=True)
sampling_rate = feature_extractor.sampling_rate
gtzan = gtzan.cast_column("audio", Audio(sampling_rate=sampling_rate))
print("model rate:", sampling_rate, "Hz; dataset now decodes at", gtzan["train"].features["audio"].sampling_rate, "Hz")
''', expect="model rate: 16000 Hz; dataset now decodes at 16000 Hz"),
    md("## Listen"),
    code('''
import IPython.display as ipd
from course_utils import display

example = gtzan["train"][0]
array = example["audio"]["array"]  # decoded now, at 16 kHz
genre = id2label_fn(example["genre"])
print(example["file"].rsplit("/", 1)[-1], "->", genre, f"({len(array) / sampling_rate:.1f} s)")
ipd.display(ipd.Audio(array, rate=sampling_rate))
display.plot_clip(array, sampling_rate, title=genre)
'''),
    md("""
## The recipe

The published settings (GPU): learning rate 5e-5, batch size 8, 10 epochs, 10 % warm-up, mixed
precision, whole 30-second songs, the best epoch kept. They live in `configs/gtzan_finetune.yaml`,
which the script `python -m course_utils.train` reads too. Profiles in that file adapt them to
where the lesson runs:

- `cpu` (no GPU): 3 epochs on the first 10 s of each song (online, a plan below keeps only the steps that fit about 10 minutes);
- `standin` (offline): a larger learning rate, a fourth epoch and the first 10 s of each song for the small stand-in;
- `tiny` (CI): the tiny stand-ins, in seconds.
"""),
    code('''
import course_utils.train

cfg = course_utils.train.load_config()  # the published recipe plus the profiles that match this machine
print("profiles applied:", ", ".join(cfg.applied_profiles) or "none (the published recipe)")
print(f"epochs {cfg.num_epochs:g}, learning rate {cfg.lr:g}, batch size {cfg.batch_size}, songs cut at {cfg.max_seconds:g} s")
'''),
    md("""
## Preprocessing, on the fly

`preprocess_function` turns a batch of rows into model inputs: the decoded arrays, truncated to
`max_length` samples and normalised by the feature extractor, plus the label.
`with_transform` runs it each time a batch is read, instead of writing every song as floats to disk
first (the published recipe's `map` over everything). That is why the first training step comes
seconds after the start. `make bench` measured the course's on-the-fly way (the same idea in
`course_utils.preprocessing`, which `python -m course_utils.train` uses) against the published `map`
over everything, on the course-size stand-in: the first batch 10.7x sooner, an epoch 6.5x faster.
"""),
    code(f'''
MAX_SECONDS = cfg.max_seconds  # 30 s in the published recipe (a whole GTZAN song); 10 s on a CPU and offline
max_length = int(sampling_rate * MAX_SECONDS)

{PREPROCESS}

gtzan_encoded = gtzan.with_transform(preprocess_function)  # nothing runs yet, nothing is written
'''),
    md("One preprocessed example, read through the transform:"),
    code('''
import numpy as np

inputs = gtzan_encoded["train"][0]
values = inputs["input_values"]
print("keys:", ", ".join(inputs))
print(f"input_values: {len(values)} samples ({len(values) / sampling_rate:g} s)")
print(f"  before the feature extractor: mean {np.mean(array[:max_length]):+.4f}, std {np.std(array[:max_length]):.4f}")
print(f"  after:                        mean {np.mean(values):+.4f}, std {np.std(values):.4f}")
print(f"label: {inputs['label']} ({id2label_fn(inputs['label'])})")
'''),
    md("""
A training batch stacks several of them. Songs can differ in length, so a **collator** pads each
batch to its longest clip; the attention mask marks the real samples (1) and the padding (0).
"""),
    code('''
from transformers import DataCollatorWithPadding

data_collator = DataCollatorWithPadding(feature_extractor)  # the Trainer's default with a feature extractor
batch = data_collator([gtzan_encoded["train"][i] for i in range(4)])
for name, tensor in batch.items():
    print(f"{name}: shape {tuple(tensor.shape)}, {tensor.dtype}")
print("attention mask, real samples per row:", batch["attention_mask"].sum(dim=1).tolist())
'''),
    md("""
### What to notice

After the feature extractor each song has mean 0 and standard deviation 1, whatever its loudness.
The collator renamed `label` to `labels`, the name the model's loss expects. Equal row sums mean
this batch needed no padding; a shorter song's row would end in zeros.
"""),
    md("The model's head needs to know the label names, in both directions:"),
    code(f'''
{CHECK}
id2label = {{i: id2label_fn(i) for i in range(len(gtzan["train"].features["genre"].names))}}
label2id = {{name: i for i, name in id2label.items()}}
print(id2label[7], label2id["pop"])
''', expect="pop 7"),
    md("""
## The model

`AutoModelForAudioClassification` loads the pre-trained encoder and adds a classification head with
ten outputs. The checkpoint has no head, so its weights are new, random: exactly what fine-tuning
trains. `output_loading_info=True` returns the names of the weights the checkpoint did not have.
"""),
    code('''
from transformers import AutoModelForAudioClassification, set_seed

set_seed(cfg.seed)  # the new head's random weights, the same at every run
model, loading_info = AutoModelForAudioClassification.from_pretrained(
    model_id, num_labels=len(id2label), label2id=label2id, id2label=id2label, output_loading_info=True)
print(f"{type(model).__name__}: {model.num_parameters() / 1e6:.1f} M parameters")
print("newly initialised:", ", ".join(sorted(loading_info["missing_keys"])))
'''),
    md("""
### What to notice

The new weights are the head: `projector` (maps the encoder's vector for each frame to a smaller
size; the frames are then averaged over time) and `classifier` (one score per genre). Everything
else comes from pre-training. The real DistilHuBERT has 23.5 M parameters (the head adds 0.2 M);
offline, the stand-in is a 0.2 M-parameter model of the same class: its figures are not the real model's.
"""),
    md("""
## Training arguments

Every setting a learner changes, from the recipe above. Three matter for on-the-fly preprocessing:
`remove_unused_columns=False` keeps the `audio` and `genre` columns, which `Trainer` would otherwise
drop (the model's `forward` takes neither) before `preprocess_function` sees them; the padding
collator above; and `dataloader_num_workers`, processes that decode the next songs while the model
trains on these (on a 2-core CPU one worker cut the offline run from about 76 s to 62 s). `warmup_steps` below 1 is a fraction of all steps; mixed precision is for GPUs only
(`mixed_precision()` gives `bf16` or `fp16` there, nothing on a CPU, where fp16 runs slower).

Before training we plan it: the published recipe (10 epochs) takes about 1 h on a T4 GPU, so on a
CPU the real DistilHuBERT trains only the steps that fit about 10 minutes (`max_steps`), where a
GPU would run every epoch; offline the stand-in is small, so every step runs.
"""),
    code('''
import math
import tempfile
from pathlib import Path

import torch
from transformers import TrainingArguments
from course_utils.sizing import plan_training
from course_utils.training import accelerator, configure_threads, data_workers, mixed_precision

if not torch.cuda.is_available():
    configure_threads(cfg.threads)  # one thread on a small shared CPU: see course_utils.training
workers = data_workers(cfg.num_workers)  # "auto": the cores training leaves free, 1 on a 2-core CPU
steps = math.ceil(len(gtzan["train"]) / cfg.batch_size) * cfg.num_epochs  # what the recipe asks for
plan = plan_training("ntu-spml/distilhubert", steps, clip_seconds=cfg.max_seconds, device=accelerator(),
                     offline=OFFLINE, budget_s=600)
print(plan.reason)
# Checkpoints go to a scratch folder; its name is also the Hub repository's if you push.
output_dir = Path(tempfile.gettempdir()) / "audio-course" / "distilhubert-finetuned-gtzan"

training_args = TrainingArguments(
    output_dir=str(output_dir),
    eval_strategy="epoch",                        # accuracy on the held-out split after every epoch
    save_strategy="epoch" if cfg.save else "no",  # a checkpoint per epoch ...
    load_best_model_at_end=cfg.save,              # ... and the best one reloaded at the end,
    metric_for_best_model="accuracy",             # best by validation accuracy
    save_total_limit=cfg.save_total_limit,        # old checkpoints deleted (the best one is kept)
    learning_rate=cfg.lr,                         # published 5e-5; offline 1e-3 (the small stand-in learns slowly)
    per_device_train_batch_size=cfg.batch_size,   # published 8
    per_device_eval_batch_size=cfg.eval_batch_size or cfg.batch_size,
    gradient_accumulation_steps=cfg.grad_accum,   # raise it for a larger batch in the same memory
    num_train_epochs=cfg.num_epochs,              # published 10; 3 on a CPU, 4 offline
    max_steps=plan.n_steps if plan.n_steps < steps else -1,  # a CPU online: the steps that fit; -1: every epoch
    warmup_steps=cfg.warmup,                      # published 0.1: below 1, a fraction of all steps
    weight_decay=cfg.weight_decay,                # published 0.0
    logging_steps=cfg.logging_steps,
    seed=cfg.seed,
    data_seed=cfg.seed,                           # the order of the songs in each epoch
    dataloader_num_workers=workers,               # processes decoding the next batches while the model trains
    dataloader_multiprocessing_context="fork" if workers else None,  # copies of this kernel: they know preprocess_function
    remove_unused_columns=False,                  # preprocess_function needs "audio" and "genre"
    report_to="none",                             # no experiment tracker
    disable_tqdm=False,                           # the progress bar, and a table of each epoch
    use_cpu=accelerator() == "cpu",               # no GPU (CUDA or Apple's MPS): train on the CPU
    **mixed_precision(),                          # {"bf16": True} or {"fp16": True} on a GPU, {} on a CPU
)
precision = "bf16" if training_args.bf16 else "fp16" if training_args.fp16 else "fp32"
length = (f"{training_args.max_steps} steps" if training_args.max_steps > 0
          else f"{training_args.num_train_epochs:g} epochs")
print(f"{length}, learning rate {training_args.learning_rate:g}, "
      f"batch {training_args.per_device_train_batch_size}, {precision}")
'''),
    md("""
`compute_metrics` turns the model's logits on the validation split into accuracy after each epoch:
"""),
    code('''
from sklearn.metrics import accuracy_score

def compute_metrics(eval_pred):
    """Accuracy of the arg-max predictions."""
    predictions = np.argmax(eval_pred.predictions, axis=1)
    return {"accuracy": accuracy_score(eval_pred.label_ids, predictions)}
'''),
    md("## Train"),
    code('''
from transformers import Trainer

trainer = Trainer(
    model=model,
    args=training_args,
    train_dataset=gtzan_encoded["train"],
    eval_dataset=gtzan_encoded["test"],
    data_collator=data_collator,         # the default with a feature extractor, passed to be seen
    processing_class=feature_extractor,  # saved with the model, so a pipeline prepares audio the same way
    compute_metrics=compute_metrics,
)
train_result = trainer.train()
for entry in trainer.state.log_history:  # the evaluation after each epoch
    if "eval_accuracy" in entry:
        print(f"epoch {entry['epoch']:.3g}: validation accuracy {entry['eval_accuracy']:.3f}, loss {entry['eval_loss']:.3f}")
print(f"{train_result.global_step} steps in {train_result.metrics['train_runtime']:.0f} s")
'''),
    md("""
## Evaluate: accuracy and confusion matrix

A caveat the published recipe shares: the best epoch was chosen on this same held-out split, so
the figure is a little optimistic. With more data, keep a third split for that choice.
"""),
    code('''
from collections import Counter

result = trainer.predict(gtzan_encoded["test"])
acc = result.metrics["test_accuracy"]  # compute_metrics's accuracy_score
genres = [id2label[i] for i in range(len(id2label))]
references = [genres[i] for i in result.label_ids]
predicted = [genres[i] for i in result.predictions.argmax(axis=1)]
commonest, count = Counter(references).most_common(1)[0]
commonest_acc = accuracy_score(references, [commonest] * len(references))
print(f"held-out 10 %: {len(references)} songs")
print(f"  accuracy:                          {acc:.3f} ± {np.sqrt(acc * (1 - acc) / len(references)):.3f} (1 standard error)")
print(f"  chance (1 of {len(genres)} genres):           {1 / len(genres):.3f}")
print(f"  always '{commonest}' (commonest here): {commonest_acc:.3f}")
print("  published (the real DistilHuBERT on the real GTZAN, 10 epochs on a T4, about 1 h): 0.81-0.83")
'''),
    code('''
import matplotlib.pyplot as plt
from sklearn.metrics import ConfusionMatrixDisplay

fig, ax = plt.subplots(figsize=(6, 6))
ConfusionMatrixDisplay.from_predictions(references, predicted, labels=genres, xticks_rotation="vertical",
                                        include_values=True, colorbar=False, ax=ax)
ax.set_title("GTZAN, held-out 10 %: true vs predicted genre")
plt.show()
'''),
    md("""
### What to notice

Compare the accuracy with chance and with always answering the commonest genre, not with zero.
Offline it is the 0.2 M-parameter stand-in's on synthetic songs, which are far easier than real
recordings: a figure above the real model's 0.81-0.83 says nothing about the real model. The
matrix shows which genres the model mixes up: read the off-diagonal cells, and ask whether the
pairs are neighbours in sound (forgivable) or not. With about ten songs per genre, one song moves a
cell a lot.
"""),
    headline('''
from course_utils.metrics import report_headline

headline = report_headline("05_finetune_distilhubert_gtzan", "accuracy", acc, n=len(references),
                           chance=round(1 / len(genres), 3), commonest=round(commonest_acc, 3),
                           split="held-out 10 %", epochs=round(trainer.state.epoch, 2))  # fewer where max_steps cut
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

Offline, the DistilHuBERT stand-in's build ran both with this recipe, on the same split, but
through the script with `save=false`, so it keeps the last epoch rather than the best one, and it resamples with soxr
rather than FFmpeg (so its first figure can differ from yours above); its
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
Any `pipeline` can load that folder. Here is its raw answer for a song training never saw:
"""),
    code('''
from transformers import pipeline

saved = output_dir / "final"
trainer.save_model(saved)
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
classifier = pipeline("audio-classification", model=str(saved), device=DEVICE)
held_out = gtzan["test"][0]
song = held_out["audio"]["array"]
print(classifier({"raw": song, "sampling_rate": sampling_rate}, top_k=3))
print("true genre:", id2label_fn(held_out["genre"]))
ipd.display(ipd.Audio(song, rate=sampling_rate))
'''),
    md("""
### What to notice

The pipeline answers with a list of `{'score', 'label'}` dicts, best first: probabilities over the
ten genres. It loaded the saved feature extractor, so it normalises as in training, but it does not
truncate: the whole song goes in, and the model averages over all of it. Listen: would you agree?
"""),
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

A few lines of gradio put the classifier behind an upload button and a microphone. `classify`
receives the file's path and returns `{genre: score}`; `course_utils.demo.classify_file` does the
reading: it refuses a file that is not audio or too large with a readable message, and averages
the scores of 10-second chunks of the first 30 s. Three held-out songs are the examples.

The demo runs in the background on this machine only (`127.0.0.1`), with uploads capped at 10 MB.
In Colab it shows inline; elsewhere open the printed address. `share=True` would give a public
gradio.live link: anyone who has it could use your machine through the demo.
"""),
    code(f'''
import sys

import gradio as gr
from course_utils.demo import classify_file

def classify(path):
    """Scores of the three likeliest genres for an uploaded or recorded file."""
    return classify_file(classifier, path, top_k=3)

examples_dir = output_dir / "examples"
examples_dir.mkdir(parents=True, exist_ok=True)
examples = []
for row in gtzan["test"].select(range(3)):
    path = examples_dir / Path(row["file"]).name
    sf.write(path, row["audio"]["array"], sampling_rate, subtype="PCM_16")
    examples.append([str(path)])

demo = gr.Interface(
    fn=classify,
    inputs=gr.Audio(type="filepath", sources=["upload", "microphone"], label="A song"),
    outputs=gr.Label(num_top_classes=3, label="Genre"),
    title="Music genre classification: DistilHuBERT fine-tuned on GTZAN",
    description="Upload a song (at most 10 MB) or record one: its first 30 s are classified.",
    examples=examples,
    flagging_mode="never",     # no "Flag" button writing files next to the notebook
    analytics_enabled=False,   # gradio sends no usage statistics
)
IN_COLAB = "google.colab" in sys.modules
_, url, _ = demo.launch(server_name="127.0.0.1", share=False, max_file_size="10mb", prevent_thread_lock=True,
                        inline=IN_COLAB, quiet=True)
if not IN_COLAB:
    print("The demo is running at", url, "- open it in your browser. It looks like this:")
    if Path("{DEMO_IMAGE}").exists():  # a picture taken for the course; the notebooks run in notebooks/
        ipd.display(ipd.Image(filename="{DEMO_IMAGE}"))
'''),
    md("When you are done, close the demo to free its port:"),
    code('''
demo.close()
'''),
    md("""
## Takeaways

- Fine-tuning = pre-trained encoder + new head (`missing_keys`) + a little labelled data.
- Decode at the model's rate (`cast_column`), truncate and normalise in a `preprocess_function`,
  on the fly with `with_transform` (then `remove_unused_columns=False`); drop broken files first.
- Measure on held-out data next to chance and the commonest class; save, reload into a pipeline,
  and put a demo in front of people.
"""),
    md("""
## Exercise

How much does training the encoder itself matter? Fine-tune again with the encoder frozen
(`model.freeze_base_model()` right after loading: only the new head learns) and compare the
accuracy and the training time with the lesson's run. (Another knob to try: halve `MAX_SECONDS`.
A solution is in `solutions.ipynb`.)
"""),
]


# The closing exercise's solution, for notebooks/solutions.ipynb (written with the lesson).
SOLUTION: list[dict] = [
    md("## Lesson 5: Fine-tuning DistilHuBERT on GTZAN"),
    md("""
Fine-tune twice, the whole model and then with the encoder frozen (only the head learns), with the
same data, seed and number of epochs, and compare accuracy and training time. The recipe's epochs
(3 at the tiny size); on a CPU with the real model, each run gets half of the steps that fit about
10 minutes, so the figures are those of a short run.
"""),
    code(f'''
import io
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from datasets import Audio, load_dataset
from sklearn.metrics import accuracy_score
from transformers import (AutoFeatureExtractor, AutoModelForAudioClassification, DataCollatorWithPadding,
                          Trainer, TrainingArguments, set_seed)

import course_utils.train
from course_utils.training import accelerator, configure_threads, mixed_precision

cfg = course_utils.train.load_config()
configure_threads(cfg.threads)
model_id = "ntu-spml/distilhubert"
feature_extractor = AutoFeatureExtractor.from_pretrained(model_id, do_normalize=True, return_attention_mask=True)
sampling_rate = feature_extractor.sampling_rate
max_length = int(sampling_rate * cfg.max_seconds)
{DECODES}

gtzan = load_dataset("marsyas/gtzan", data_dir="all", revision="refs/convert/parquet", split="train")
gtzan = gtzan.train_test_split(seed=42, shuffle=True, test_size=0.1)
gtzan = gtzan.cast_column("audio", Audio(decode=False)).filter(decodes, input_columns="audio")
gtzan = gtzan.cast_column("audio", Audio(sampling_rate=sampling_rate))
genres = gtzan["train"].features["genre"].names

{PREPROCESS}

gtzan_encoded = gtzan.with_transform(preprocess_function)
'''),
    code('''
import math

from course_utils.sizing import plan_training

EPOCHS = 3 if SIZE == "tiny" else cfg.num_epochs
steps = math.ceil(len(gtzan_encoded["train"]) / cfg.batch_size) * EPOCHS
# Two runs: on a CPU online each gets half of the steps that fit about 10 minutes (see the lesson).
plan = plan_training(model_id, 2 * steps, clip_seconds=cfg.max_seconds, device=accelerator(), offline=OFFLINE,
                     budget_s=600)
print(plan.reason)
MAX_STEPS = plan.n_steps // 2 if plan.n_steps < 2 * steps else -1

def finetune(freeze):
    set_seed(cfg.seed)
    model = AutoModelForAudioClassification.from_pretrained(
        model_id, num_labels=len(genres), id2label=dict(enumerate(genres)), label2id={g: i for i, g in enumerate(genres)})
    if freeze:
        model.freeze_base_model()  # the encoder's weights stay as pre-trained
    args = TrainingArguments(
        output_dir=str(Path(tempfile.gettempdir()) / "audio-course" / "exercise-05"), eval_strategy="no",
        save_strategy="no", learning_rate=cfg.lr, per_device_train_batch_size=cfg.batch_size,
        num_train_epochs=EPOCHS, max_steps=MAX_STEPS, warmup_steps=cfg.warmup, seed=cfg.seed, data_seed=cfg.seed,
        remove_unused_columns=False, report_to="none", disable_tqdm=False, use_cpu=accelerator() == "cpu",
        **mixed_precision())
    trainer = Trainer(model=model, args=args, train_dataset=gtzan_encoded["train"],
                      data_collator=DataCollatorWithPadding(feature_extractor))
    start = time.perf_counter()
    train_loss = trainer.train().training_loss  # the mean over all steps
    seconds = time.perf_counter() - start
    result = trainer.predict(gtzan_encoded["test"])
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return accuracy_score(result.label_ids, result.predictions.argmax(axis=1)), train_loss, seconds, trained

results = {name: finetune(freeze) for name, freeze in [("whole model", False), ("encoder frozen", True)]}
length = f"{MAX_STEPS} steps" if MAX_STEPS > 0 else f"{EPOCHS:g} epochs"
print(f"held-out 10 %: {len(gtzan['test'])} songs, chance {1 / len(genres):.3f}; {length} each")
for name, (acc, train_loss, seconds, trained) in results.items():
    print(f"{name:15s} accuracy {acc:.3f}, mean training loss {train_loss:.3f}, {seconds:.0f} s of training, "
          f"{trained:,} parameters trained")
'''),
    md("""
Freezing the encoder trains only the head (the count is printed above; about 0.2 M weights for the
real DistilHuBERT): each step is a little cheaper
(no gradients through the encoder), but the features stay those learned in pre-training (speech,
for the real DistilHuBERT), and the training loss falls more slowly. For music, adapting the encoder
is worth its cost. At the tiny size (9 held-out songs) the accuracies are noise and the training
loss is the steadier sign; at the course size, compare the accuracies with their standard errors.
"""),
]
