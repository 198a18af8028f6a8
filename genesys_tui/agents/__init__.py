"""LLM agents that design LM blocks: proposer, reviewer, planner, coder and observer.

``make_llm_designer("anthropic:MODEL")`` (see ``factory.py``) returns a designer for the
evolution loop. Modules: ``settings`` (the ``[agents]`` table), ``providers`` (Anthropic,
OpenAI, OpenAI-compatible servers; streaming and retries), ``costs`` (price table, ledger,
budgets), ``secrets`` (API keys and redaction), ``instructions`` and ``prompts/`` (what each
role is told), ``briefs`` (what each role is asked), ``replies`` (parsing what comes back),
``context`` (parents, siblings, reference search), ``plan`` (the planner's plan applied to the
parents), ``session`` (the bounded flow), ``dialogue`` (the record), ``designer`` and
``stats`` (the paper's statistics). Text only: this package never imports torch.
"""
