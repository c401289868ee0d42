"""The model provider the worker calls: endpoint, key, timeouts, models' limits, images and documents."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings.env import env_float, env_int, env_str


@dataclass(frozen=True)
class ModelLimits:
    """Token limits of one model: the whole context window, the most input and the most output."""

    context: int
    max_input: int
    max_output: int


# DashScope's published limits (docs/dashscope spec, section 6); override with LLM_MODEL_LIMITS.
DEFAULT_MODEL_LIMITS = (
    "qwen-turbo=131072/98304/16384,qwen-plus=1000000/129024/32768,qwen-max=32768/30720/8192,"
    "qwen-flash=1000000/997952/32768,qwen-long=10000000/10000000/6144,qwen3-max=262144/258048/65536,"
    "qwen3.5-plus=1000000/991808/65536,qwen3.5-flash=1000000/991808/65536,"
    "qwen3-8b=131072/129024/8192,qwen3-32b=131072/129024/8192,"
    "qwen-vl-max=131072/129024/8192,qwen3-vl-plus=262144/260096/32768"
)


# DashScope's natively multimodal and vision models: its native protocol answers them only through
# MultiModalConversation (deep-thinking page: the Qwen3.5 series "uses a multimodal interface", the
# text endpoint "returns a url error"); compatible mode has no such split.
DEFAULT_MULTIMODAL_MODELS = (
    "qwen-vl-max,qwen-vl-plus,qwen3-vl-plus,qwen3-vl-flash,qwen3.5-plus,qwen3.5-flash,qwen3.6-plus,qwen3.6-flash"
)


def parse_model_limits(spec: str) -> dict[str, ModelLimits]:
    """`name=context/max_input/max_output,...` into a table; used for defaults and overrides alike."""
    table: dict[str, ModelLimits] = {}
    for item in spec.split(","):
        if item.strip():
            name, _, numbers = item.partition("=")
            context, max_input, max_output = (int(n) for n in numbers.split("/"))
            table[name.strip()] = ModelLimits(context, max_input, max_output)
    return table


@dataclass(frozen=True)
class LlmSettings:
    """Which LLM endpoint the worker talks to, with what key, timeouts and prompt budget."""

    provider: str = field(default_factory=lambda: env_str("LLM_PROVIDER", "dashscope"))  # dashscope | openai
    api_key: str = field(default_factory=lambda: env_str("DASHSCOPE_API_KEY", ""))
    dashscope_base_url: str = field(
        default_factory=lambda: env_str("DASHSCOPE_HTTP_BASE_URL", "https://dashscope.aliyuncs.com/api/v1")
    )
    openai_base_url: str = field(
        default_factory=lambda: env_str("LLM_OPENAI_BASE_URL", "https://dashscope.aliyuncs.com/compatible-mode/v1")
    )
    openai_api_key: str = field(default_factory=lambda: env_str("LLM_OPENAI_API_KEY", env_str("DASHSCOPE_API_KEY", "")))
    default_model: str = field(default_factory=lambda: env_str("LLM_MODEL", "qwen-turbo"))
    title_model: str = field(default_factory=lambda: env_str("LLM_TITLE_MODEL", "qwen-turbo"))  # session titles
    connect_timeout: float = field(default_factory=lambda: env_float("LLM_CONNECT_TIMEOUT", 10.0))
    read_timeout: float = field(default_factory=lambda: env_float("LLM_READ_TIMEOUT", 60.0))  # max gap between chunks
    max_connections: int = field(default_factory=lambda: env_int("LLM_MAX_CONNECTIONS", 1024))
    prompt_margin: float = field(default_factory=lambda: env_float("LLM_PROMPT_MARGIN", 0.05))
    model_limits: dict[str, ModelLimits] = field(
        default_factory=lambda: parse_model_limits(DEFAULT_MODEL_LIMITS + "," + env_str("LLM_MODEL_LIMITS", ""))
    )
    # A question with images on a model without vision is answered by this model (README, "Images").
    vision_model: str = field(default_factory=lambda: env_str("LLM_VISION_MODEL", "qwen-vl-max"))
    # Models DashScope answers only on the multimodal endpoint (on the text one: "url error, please
    # check url！"), their dated snapshots too; the `models` table says it for the models it lists,
    # this list for any other, and before the table has loaded.
    multimodal_models: frozenset[str] = field(
        default_factory=lambda: frozenset(
            m.strip() for m in env_str("LLM_MULTIMODAL_MODELS", DEFAULT_MULTIMODAL_MODELS).split(",") if m.strip()
        )
    )
    # How images reach the model: "inline" (data URI; works anywhere), "signed_url" (a short-lived
    # Storage link the provider fetches; needs a Storage URL it can reach) or "auto": links when the
    # provider can reach Storage's host, inline after a link it could not download (worker/images.py).
    image_transport: str = field(default_factory=lambda: env_str("LLM_IMAGE_TRANSPORT", "auto"))
    image_url_seconds: int = field(default_factory=lambda: env_int("LLM_IMAGE_URL_SECONDS", 600))
    # The worker keeps the images it has read (data URIs, links) for later turns (worker/images.py).
    image_cache_mb: int = field(default_factory=lambda: env_int("LLM_IMAGE_CACHE_MB", 128))
    # Inline images above this many pixels are sent scaled down to it (worker/images.py); 0: not for
    # that (one DashScope would refuse is still made acceptable: GIF, sides, bytes).
    image_max_pixels: int = field(default_factory=lambda: env_int("LLM_IMAGE_MAX_PIXELS", 1_310_720))
    # A new question's images are read while it is being claimed, at most this many at once; 0: off.
    image_read_ahead: int = field(default_factory=lambda: env_int("LLM_IMAGE_READ_AHEAD", 8))
    # ... and the text of the documents it has read and parsed (worker/documents.py).
    document_cache_mb: int = field(default_factory=lambda: env_int("LLM_DOCUMENT_CACHE_MB", 64))
    # The most a document's text (and a DOCX's unpacked parts) may take; past it, DocumentTooLong
    # (worker/extraction.py): more than any model's context window, and a zip bomb stays packed.
    document_max_mb: int = field(default_factory=lambda: env_int("LLM_DOCUMENT_MAX_MB", 32))
    # A PDF's reading is bounded in pages (refused before any is read) and a PDF's or DOCX's in time
    # (a worker thread's, which no turn timeout stops): past either, DocumentTooComplex.
    document_max_pages: int = field(default_factory=lambda: env_int("LLM_DOCUMENT_MAX_PAGES", 2000))
    document_read_seconds: float = field(default_factory=lambda: env_float("LLM_DOCUMENT_READ_SECONDS", 30.0))
    # Documents are read in this many threads of their own, not the pool that scales images and
    # counts prompt tokens, so heavy ones at once cannot hold up other turns (worker/documents.py).
    document_readers: int = field(default_factory=lambda: env_int("LLM_DOCUMENT_READERS", 2))

    def multimodal_only(self, model: str) -> bool:
        """Whether `model` (or the model it is a snapshot of: `-latest`, `-2026-...`) answers only on
        the multimodal endpoint, by LLM_MULTIMODAL_MODELS."""
        base = model.removesuffix("-latest").split("-20")[0]
        return model in self.multimodal_models or base in self.multimodal_models

    @property
    def base_url(self) -> str:
        """The endpoint the configured provider calls."""
        return self.dashscope_base_url if self.provider == "dashscope" else self.openai_base_url
