"""Configuration of a Genesys design exported as a Hugging Face model (``genesys export``)."""

from transformers import PretrainedConfig


class GenesysConfig(PretrainedConfig):
    """The size of the model and the design's unit tree (its ``design.json``).

    ``design`` names the units, their classes, files, arguments and children; the unit sources
    live in ``genesys_units.py`` beside this file.
    """

    model_type = "genesys"

    def __init__(
        self,
        d_model=256,
        n_layers=4,
        vocab_size=4096,
        context_length=256,
        design=None,
        tie_word_embeddings=True,
        **kwargs,
    ):
        self.d_model = d_model
        self.n_layers = n_layers
        self.vocab_size = vocab_size
        self.context_length = context_length
        self.design = design or {}
        # The names generic tools look for.
        self.hidden_size = d_model
        self.num_hidden_layers = n_layers
        self.max_position_embeddings = context_length
        super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)
