"""The real Hub repositories the course uses, as facts with their evidence: the one table.

The offline world replays these repositories from stand-ins built on this machine. Every fact
about how a real repository is laid out lives here, once: the builders write their stand-ins from
it (``dataset_path``), the local Hub server serves them under the real ids from it (``store``),
and the tests check both against it. A fact found wrong is fixed here. A fact not confirmed
against the real Hub says so in ``unconfirmed``; the ``notebooks-gpu`` workflow, which runs the
lessons against the real Hub, is the check of the whole table.

Evidence keys used below:
  shared   - ../shared/README.md, the course's reference notes (dataset and model cards, read by search)
  card     - the repository's Hub page / dataset or model card
  chapter  - the published Hugging Face audio course, unit 4 (its printed outputs)
  datasets - the ``datasets`` 5.2 source (``load.py``, ``data_files.py``)
  measured - reproduced here, on a local copy of the layout through the real client libraries
  code     - public code that reads these exact paths from the Hub (found with the search tool)
  viewer   - the dataset viewer's conversion rules (huggingface/dataset-viewer issue 1463:
             ``<config>/<split>/<0000-9999>.parquet``; a split cut short is ``partial-<split>``)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

PARQUET = "refs/convert/parquet"
MAIN = "main"
# Where the Hub's parquet conversion puts a script-based repository's data: one folder per config,
# one per split inside it, files numbered from 0000. There is no README on that branch, so no
# config is declared: ``name=<config>`` fails, ``data_dir=<config>`` reads one config.
PARQUET_FILE = "{config}/{split}/{index:04d}.parquet"
# A repository pushed as parquet (``push_to_hub``): shards under data/ on main.
PUSHED_FILE = "data/{split}-{index:05d}-of-{total:05d}.parquet"

# google/fleurs' 102 language configs, sorted (its lang_id ClassLabel: these, then "all").
FLEURS_CODES = tuple(sorted([
    "af_za", "am_et", "ar_eg", "as_in", "ast_es", "az_az", "be_by", "bn_in", "bs_ba", "ca_es", "ceb_ph",
    "cmn_hans_cn", "yue_hant_hk", "cs_cz", "cy_gb", "da_dk", "de_de", "el_gr", "en_us", "es_419", "et_ee",
    "fa_ir", "ff_sn", "fi_fi", "fil_ph", "fr_fr", "ga_ie", "gl_es", "gu_in", "ha_ng", "he_il", "hi_in",
    "hr_hr", "hu_hu", "hy_am", "id_id", "ig_ng", "is_is", "it_it", "ja_jp", "jv_id", "ka_ge", "kam_ke",
    "kea_cv", "kk_kz", "km_kh", "kn_in", "ko_kr", "ckb_iq", "ky_kg", "lb_lu", "lg_ug", "ln_cd", "lo_la",
    "lt_lt", "luo_ke", "lv_lv", "mi_nz", "mk_mk", "ml_in", "mn_mn", "mr_in", "ms_my", "mt_mt", "my_mm",
    "nb_no", "ne_np", "nl_nl", "nso_za", "ny_mw", "oc_fr", "om_et", "or_in", "pa_in", "pl_pl", "ps_af",
    "pt_br", "ro_ro", "ru_ru", "bg_bg", "sd_in", "sk_sk", "sl_si", "sn_zw", "so_so", "sr_rs", "sv_se",
    "sw_ke", "ta_in", "te_in", "tg_tj", "th_th", "tr_tr", "uk_ua", "umb_ao", "ur_pk", "uz_uz", "vi_vn",
    "wo_sn", "xh_za", "yo_ng", "zu_za",
]))


@dataclass(frozen=True)
class DatasetRepo:
    """One real dataset repository, as the clients see it."""

    hub_id: str
    builder: str  # the offline builder that makes its stand-in
    revision: str  # where today's `datasets` can read the data
    file: str  # data file pattern on that revision
    configs: tuple[str, ...]  # the configs the real repository declares
    splits: tuple[str, ...]
    columns: tuple[str, ...]
    labels: str  # the ClassLabel column the lesson predicts
    sampling_rate: int
    script: str | None = None  # the loading script on main, which datasets 5 refuses
    absent: tuple[str, ...] = ()  # configs the real repository declares but `revision` does not hold
    evidence: dict[str, str] = field(default_factory=dict)
    unconfirmed: tuple[str, ...] = ()
    standin_only: bool = False  # a repository of the offline world with no real counterpart

    @property
    def subdir(self) -> str:
        """Where its files live inside the builder's folder: a stand-in-only repository under its own
        name (FLEURS' human speech sits beside the FLEURS stand-in), a real one at the top."""
        return self.hub_id.split("/", 1)[1] if self.standin_only else ""

    def data_path(self, config: str, split: str, index: int = 0, total: int = 1) -> str:
        return self.file.format(config=config, split=split, index=index, total=total)


@dataclass(frozen=True)
class ModelRepo:
    hub_id: str
    builder: str
    model_class: str
    files: tuple[str, ...]  # what the stand-in holds on main (the real repo may store .bin weights)
    pipeline_tag: str  # the task the Hub files it under (its search filter)
    datasets: tuple[str, ...] = ()  # the card's datasets (the Hub's `dataset:<id>` tags)
    evidence: dict[str, str] = field(default_factory=dict)
    unconfirmed: tuple[str, ...] = ()

    @property
    def tags(self) -> list[str]:
        return ["transformers", "safetensors", self.pipeline_tag, *(f"dataset:{d}" for d in self.datasets)]


DATASETS: dict[str, DatasetRepo] = {r.hub_id: r for r in [
    DatasetRepo(
        "PolyAI/minds14", "minds14", PARQUET, PARQUET_FILE,
        configs=("cs-CZ", "de-DE", "en-AU", "en-GB", "en-US", "es-ES", "fr-FR", "it-IT", "ko-KR", "nl-NL",
                 "pl-PL", "pt-PT", "ru-RU", "zh-CN", "all"),
        splits=("train",),
        columns=("path", "audio", "transcription", "english_transcription", "intent_class", "lang_id"),
        labels="intent_class", sampling_rate=8000, script="minds14.py",
        evidence={
            "configs, columns, labels, rate": "shared; card PolyAI/minds14",
            "parquet branch holds all/, en-AU/, de-DE/ ... as <config>/train/": "shared: the branch's "
            ".gitattributes (Hub page PolyAI/minds14, blob refs%2Fconvert%2Fparquet/.gitattributes); code: "
            "hf://datasets/PolyAI/minds14@refs/convert/parquet/en-US/train/*.parquet, and es-ES/, fr-FR/, "
            "de-DE/train/0000.parquet through resolve/refs%2Fconvert%2Fparquet/",
            "name= fails, data_dir= reads one config with its label names": "measured (shared)",
            "main holds minds14.py, refused by datasets 5": "datasets load.py; card",
        }),
    DatasetRepo(
        "google/speech_commands", "speech_commands", PARQUET, PARQUET_FILE,
        configs=("v0.01", "v0.02"), splits=("train", "validation", "test"),
        columns=("file", "audio", "label", "is_unknown", "speaker_id", "utterance_id"),
        labels="label", sampling_rate=16000, script="speech_commands.py",
        evidence={"configs, splits, columns, labels, rate": "shared; card google/speech_commands",
                  "the old id `speech_commands` redirects here": "card",
                  "speech_commands.py with configs v0.01 and v0.02": "huggingface/datasets' former "
                  "datasets/speech_commands/speech_commands.py"},
        unconfirmed=("the parquet branch's folders (v0.01/, v0.02/, <split>/ or partial-<split>/): "
                     "assumed to follow the converter's <config>/<split>/ layout; no public listing found",
                     "the stand-in builds v0.02 only (the lesson's config)")),
    DatasetRepo(
        "google/fleurs", "fleurs", PARQUET, PARQUET_FILE,
        configs=(*FLEURS_CODES, "all"),
        splits=("train", "validation", "test"),
        columns=("id", "num_samples", "path", "audio", "transcription", "raw_transcription", "gender",
                 "lang_id", "language", "lang_group_id"),
        labels="lang_id", sampling_rate=16000, script="fleurs.py", absent=("all",),
        evidence={"configs, columns, labels, rate": "shared; card google/fleurs",
                  "per-language folders on the parquet branch, `all` absent": "shared: converter commits on "
                  "google/fleurs; code reading en_us/, ro_ro/, tr_tr/test/0000.parquet and <lang>/train/*.parquet",
                  "main holds fleurs.py": "huggingface_hub docs (hf://datasets/google/fleurs@refs/pr/1/fleurs.py)"},
        unconfirmed=("`all` may exist as partial-<split>/ folders; no public listing shows it",
                     "the stand-in builds 25 of the 102 languages")),
    DatasetRepo(
        "ashraq/esc50", "esc50", MAIN, PUSHED_FILE, configs=("default",), splits=("train",),
        columns=("filename", "fold", "target", "category", "esc10", "src_file", "take", "audio"),
        labels="category", sampling_rate=44100,
        evidence={"plain parquet on main, 2000 rows, columns, rate": "shared; card ashraq/esc50",
                  "data/train-00000-of-00002-<hash>.parquet and -00001-of-00002-, dataset_infos.json, config "
                  "`default`": "code downloading those paths from resolve/main; the viewer's URL .../default/train"},
        unconfirmed=("the stand-in writes one shard without the hash suffix, and no dataset_infos.json",
                     "columns src_file and take: from the card only")),
    DatasetRepo(
        "marsyas/gtzan", "gtzan", PARQUET, PARQUET_FILE, configs=("all",), splits=("train",),
        columns=("file", "audio", "genre"), labels="genre", sampling_rate=22050, script="gtzan.py",
        evidence={"config `all`, 999 rows (the corrupt jazz.00054 skipped), columns, rate":
                  "shared; chapter (its printed DatasetDict)",
                  "main holds a loading script (and data/genres.tar.gz)": "datasets issue 6451; code downloading "
                  "resolve/main/data/genres.tar.gz"},
        unconfirmed=("the script's file name gtzan.py",
                     "the branch's folder for 1.3 GB of audio: all/train/ with several files, or "
                     "all/partial-train/ (viewer)",
                     "the stand-in keeps one corrupt clip on purpose (lesson 5 handles it); the Hub's copy has none")),
    # The offline world's one extra: human speech for lesson 3's synthetic-versus-human check.
    DatasetRepo(
        "course-standins/fleurs-human-speech", "fleurs", MAIN, PUSHED_FILE, configs=("default",),
        splits=("test",), columns=("id", "num_samples", "path", "audio", "transcription", "raw_transcription",
                                   "gender", "lang_id", "language", "lang_group_id"),
        labels="lang_id", sampling_rate=16000, standin_only=True,
        evidence={"no real counterpart": "recorded Tux Paint descriptions (Debian), in FLEURS' schema"}),
]}

MODELS: dict[str, ModelRepo] = {r.hub_id: r for r in [
    ModelRepo("anton-l/xtreme_s_xlsr_300m_minds14", "xlsr-minds14", "Wav2Vec2ForSequenceClassification",
              ("config.json", "model.safetensors", "preprocessor_config.json", "README.md"),
              "audio-classification", ("PolyAI/minds14",),
              evidence={"class, XLS-R 300M, 0.9033 accuracy on all MINDS-14 languages": "shared; card"},
              unconfirmed=("the card's pipeline and dataset tags",)),
    ModelRepo("MIT/ast-finetuned-speech-commands-v2", "ast-speech-commands", "ASTForAudioClassification",
              ("config.json", "model.safetensors", "preprocessor_config.json", "README.md"),
              "audio-classification", ("google/speech_commands",),
              evidence={"class, 98.12 % on Speech Commands v2": "shared; card"},
              unconfirmed=("the card's pipeline and dataset tags",)),
    ModelRepo("sanchit-gandhi/whisper-medium-fleurs-lang-id", "whisper-fleurs-lang-id",
              "WhisperForAudioClassification",
              ("config.json", "model.safetensors", "preprocessor_config.json", "README.md"),
              "audio-classification", ("google/fleurs",),
              evidence={"class, labels are language names, 0.8805 on FLEURS": "shared; card",
                        "main holds model.safetensors and pytorch_model.bin, no tokenizer files":
                        "a public local mirror's listing of the repository"},
              unconfirmed=("the card's pipeline and dataset tags",)),
    ModelRepo("laion/clap-htsat-unfused", "clap-htsat-unfused", "ClapModel",
              ("config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "README.md"),
              "zero-shot-audio-classification",
              evidence={"ClapModel + ClapProcessor, rand_trunc": "shared; card"},
              unconfirmed=("the card's pipeline tag",)),
    ModelRepo("ntu-spml/distilhubert", "distilhubert", "HubertModel",
              ("config.json", "model.safetensors", "preprocessor_config.json", "README.md"),
              "feature-extraction",
              evidence={"HubertModel, fine-tuned on GTZAN to 0.83 in the chapter": "shared; chapter"},
              unconfirmed=("the card's pipeline tag",)),
]}


def facts() -> str:
    """What of the table decides how a stand-in is written (for the builds' fingerprints): the
    evidence, notes and model tags can be edited without rebuilding anything."""
    return repr([(r.hub_id, r.builder, r.revision, r.file, r.configs, r.splits, r.columns, r.script, r.absent,
                  r.standin_only) for r in DATASETS.values()])


def folder_name(revision: str) -> str:
    """The folder a revision's files live in, inside a stand-in: ``refs/convert/parquet`` ->
    ``refs%2Fconvert%2Fparquet`` (as the Hub spells it in URLs)."""
    return quote(revision, safe="")


def dataset(hub_id: str) -> DatasetRepo:
    hub_id = {"speech_commands": "google/speech_commands"}.get(hub_id, hub_id)
    try:
        return DATASETS[hub_id]
    except KeyError:
        raise KeyError(f"{hub_id}: not a dataset of the course (known: {', '.join(DATASETS)})") from None


def table() -> str:
    """The table as markdown, for the README and for a reader in a terminal."""
    rows = ["| dataset | data on | files | configs | splits | label column | rate | "
            "unconfirmed |", "|---|---|---|---|---|---|---|---|"]
    for r in DATASETS.values():
        shown = r.configs if len(r.configs) <= 16 else (f"{len(r.configs) - 1} languages ({r.configs[0]} ... "
                                                          f"{r.configs[-2]})", r.configs[-1])
        configs = ", ".join(shown) + (f" ({', '.join(r.absent)} absent)" if r.absent else "")
        where = f"`{r.revision}`" + (f"; `main` holds `{r.script}` (refused)" if r.script else "")
        rows.append(f"| `{r.hub_id}` | {where} | `{r.file}` | {configs} | {', '.join(r.splits)} | "
                    f"`{r.labels}` | {r.sampling_rate} | {'; '.join(r.unconfirmed) or '-'} |")
    return "\n".join(rows)
