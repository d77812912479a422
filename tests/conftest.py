"Shared pytest settings: tests never touch a hub, run on the CPU."
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("MOVIEFACTORY_PROGRESS", "0")
