"""KNN-LM Does Not Improve Open-ended Text Generation (Wang, Song, Drozdov, Garimella, Manjunatha and
Iyyer, 2023), arXiv:2305.14625: the paper's two analyses of a kNN-LM (built with the knn_lm plugin) on
tinylm decoders. Registration only: nothing heavy is imported here."""

from paperzoo import Paper, hookimpl

PAPER = Paper(title="KNN-LM Does Not Improve Open-ended Text Generation", year=2023, arxiv="2305.14625")

_TINY_LM = {
    "data": {"name": "tinylm_copy", "n_samples": 16, "length": 8},
    "model": {"name": "tinylm_decoder", "d_model": 16, "n_layers": 2, "n_heads": 2, "max_seq_len": 32},
}
_KNN = {"k": 4, "temperature": 1.0, "lam": 0.25, "datastore_sequences": 8, "n_sequences": 2}


@hookimpl
def register_evaluators(register):
    register(
        "token_ppl_delta_split",
        "paperzoo_knnlm_generation_analysis.evaluate:TokenPPLDeltaSplit",
        "Split the kNN-LM's per-token log-likelihood change on held-out text into improved and worsened "
        "tokens (sums add up to the total), with their shares and the share of tokens carrying the gain.",
        paper=PAPER,
        tags=("metric", "retrieval", "language_modeling", "analysis"),
        example=_KNN,
        example_config=_TINY_LM,
    )
    register(
        "retrieval_entropy_by_length",
        "paperzoo_knnlm_generation_analysis.evaluate:RetrievalEntropyByLength",
        "Entropy of the kNN-LM's retrieval distribution and of the base LM per generated position "
        "(binned means and slopes over generated length; exposure bias of retrieval).",
        paper=PAPER,
        tags=("metric", "retrieval", "generation", "analysis"),
        example={**_KNN, "prompt_len": 3, "max_new_tokens": 4, "n_bins": 2},
        example_config=_TINY_LM,
    )
