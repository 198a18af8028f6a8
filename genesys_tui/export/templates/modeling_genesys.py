"""A Genesys design as a Hugging Face causal language model (written by ``genesys export``).

Self-contained: it needs torch and transformers, not Genesys. The design's units are the exact
source text Genesys trained and scored (``genesys_units.py``); ``genesys_contract.py`` is
Genesys's own unit contract and scaffold, copied verbatim. Load it with

    AutoModelForCausalLM.from_pretrained(DIR, trust_remote_code=True)

Loading runs the design's unit code, as ``trust_remote_code`` says: read it first. Generation
keeps each unit's state between tokens (``DecodeCache``: keys and values for attention, the
recurrent state of recurrent mixers) where every unit can; otherwise it recomputes the prefix.
"""

import builtins
import dataclasses
import types
import warnings

import torch
import torch.nn.functional as F
from transformers import GenerationMixin, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutputWithPast

from .configuration_genesys import GenesysConfig
from .genesys_contract import BuildContext, DecodeCache, Scaffold, Unit, build_blocks
from .genesys_units import UNIT_SOURCES

# transformers 5 calls the decoding state ``cache``; 4 called it ``past_key_values``.
_FIELDS = {f.name for f in dataclasses.fields(CausalLMOutputWithPast)}
_CACHE_FIELD = "cache" if "cache" in _FIELDS else "past_key_values"


class Arg:
    """A unit argument as unit files declare it; only its default is needed to build."""

    def __init__(self, default, low=None, high=None, choices=None, doc=""):
        self.default = default
        self.low, self.high, self.choices, self.doc = low, high, choices, doc


# Unit files import ``from genesys_tui.units import Arg, Unit``: give them this module's.
_UNITS = types.ModuleType("genesys_tui.units")
_UNITS.Arg, _UNITS.Unit, _UNITS.BuildContext = Arg, Unit, BuildContext


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if name == "genesys_tui.units":
        return _UNITS
    return builtins.__import__(name, globals, locals, fromlist, level)


def unit_classes(design):
    """{unit id: class}, each file executed once in a namespace of its own."""
    namespaces = {}
    for file, source in UNIT_SOURCES.items():
        ns = {
            "__name__": "genesys_unit_" + file.replace("/", "_")[:-3],
            "__file__": file,
            "__builtins__": dict(vars(builtins), __import__=_import),
        }
        exec(compile(source, file, "exec"), ns)
        namespaces[file] = ns
    return {uid: namespaces[u["file"]][u["class"]] for uid, u in design["units"].items()}


def build_unit(design, classes, uid, ctx):
    """Unit ``uid`` and, recursively, its children: children first, then their parent."""
    node = design["units"][uid]
    cls = classes[uid]
    children = {
        slot: build_unit(design, classes, child, ctx)
        for slot, child in node.get("children", {}).items()
    }
    kwargs = {name: arg.default for name, arg in cls.args.items()}
    kwargs.update(node.get("args", {}))
    return cls(ctx, **children, **kwargs)


class GenesysForCausalLM(PreTrainedModel, GenerationMixin):
    config_class = GenesysConfig
    base_model_prefix = "lm"
    main_input_name = "input_ids"

    def __init__(self, config):
        super().__init__(config)
        design = config.design
        root = design["root"]
        roots = [root] if isinstance(root, str) else list(root)
        classes = unit_classes(design)
        # Built for real on the CPU even where transformers initialises on the meta device:
        # units compute buffers in __init__ (rotary tables, masks) that no checkpoint holds.
        with torch.device("cpu"):
            blocks = build_blocks(
                roots, lambda uid, ctx: build_unit(design, classes, uid, ctx),
                d_model=config.d_model, n_layers=config.n_layers,
                context_length=config.context_length, vocab_size=config.vocab_size,
            )  # fmt: skip
            self.lm = Scaffold(blocks, config.vocab_size, config.d_model)
            self.lm.reset_parameters()
        # transformers replaces buffers that are not saved with empty tensors after building;
        # keep their values to put back in _init_weights.
        for module in self.lm.modules():
            kept = {
                name: module._buffers[name].detach().clone()
                for name in module._non_persistent_buffers_set
                if module._buffers.get(name) is not None
            }
            if kept:
                module._genesys_buffers = kept
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        # Genesys's own init ran in __init__ and from_pretrained loads the weights; only the
        # buffers no checkpoint holds need their values back.
        for name, value in getattr(module, "_genesys_buffers", {}).items():
            buffer = module._buffers[name]
            module._buffers[name] = value.to(device=buffer.device, dtype=buffer.dtype)

    def get_input_embeddings(self):
        return self.lm.wte

    def set_input_embeddings(self, value):
        self.lm.wte = value

    @classmethod
    def _supports_default_dynamic_cache(cls):
        return False  # the model brings its own cache (DecodeCache), made in forward

    def forward(
        self,
        input_ids,
        attention_mask=None,
        labels=None,
        cache=None,
        past_key_values=None,
        use_cache=None,
        return_dict=None,
        **kwargs,
    ):
        mask = attention_mask
        if mask is not None and bool((mask[:, 1:] > mask[:, :-1]).any()):
            raise ValueError(
                "Genesys models take no left padding: pad on the right, or run "
                "one sequence at a time"
            )
        state = cache if cache is not None else past_key_values
        if use_cache and not self.lm.can_cache():
            if not getattr(self, "_said_recompute", False):
                warnings.warn(
                    "these units cannot decode with a cache, so every token "
                    f"recomputes the prefix: {', '.join(self.lm.uncached_units())}",
                    stacklevel=2,
                )
                self._said_recompute = True
            use_cache = False
        if use_cache:
            state = state if isinstance(state, DecodeCache) else DecodeCache()
            logits = self.lm(input_ids, state)
        else:
            state = None
            logits = self.lm(input_ids)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(
                logits[:, :-1].flatten(0, 1).float(), labels[:, 1:].flatten(), ignore_index=-100
            )
        return CausalLMOutputWithPast(loss=loss, logits=logits, **{_CACHE_FIELD: state})

    def prepare_inputs_for_generation(
        self,
        input_ids,
        attention_mask=None,
        cache=None,
        past_key_values=None,
        use_cache=None,
        **kwargs,
    ):
        state = cache if cache is not None else past_key_values
        if isinstance(state, DecodeCache):
            input_ids = input_ids[:, state.offset :]  # only the tokens the cache has not seen
        else:
            state = None
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            _CACHE_FIELD: state,
            "use_cache": use_cache,
        }


__all__ = ["GenesysConfig", "GenesysForCausalLM"]
