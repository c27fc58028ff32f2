"""Safe image intake: every screenshot from outside is checked here before anything decodes it
fully. A bad file is rejected with a reason that names it; it never crashes the caller."""

from __future__ import annotations

import contextlib
import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_PIXELS = 8192 * 8192
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF")


class ImageRejected(ValueError):
    """An image that cannot be used; str() says which file and why."""


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_request_pixels: int = 64_000_000  # all screenshots of one request together (predictors)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _opened(data: bytes, name: str, limits: ImageLimits) -> Iterator[Image.Image]:
    """Untrusted bytes opened as an image whose header is within the limits (size, pixels,
    format), nothing decoded yet; whatever Pillow raises inside is an ImageRejected naming `name`."""
    if not data:
        raise ImageRejected(f"{name}: empty file")
    if len(data) > limits.max_bytes:
        raise ImageRejected(f"{name}: {len(data):,} bytes exceeds the limit of {limits.max_bytes:,} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            # The header gives the size before any pixel is decoded: refuse bombs here.
            width, height = img.size
            if width * height > limits.max_pixels:
                raise ImageRejected(
                    f"{name}: {width}x{height} pixels exceeds the limit of {limits.max_pixels:,} pixels"
                )
            if img.format not in ALLOWED_FORMATS:
                raise ImageRejected(f"{name}: format {img.format} is not accepted ({', '.join(ALLOWED_FORMATS)})")
            yield img
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # Pillow refuses some headers (over twice its own pixel limit) inside open() itself.
        raise ImageRejected(f"{name}: decompression bomb refused ({e})") from e
    except UnidentifiedImageError as e:
        raise ImageRejected(f"{name}: not an image (no known image format)") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageRejected(f"{name}: broken or truncated image ({e})") from e


def decode_image(
    data: bytes,
    name: str = "image",
    limits: ImageLimits = ImageLimits(),
    draft_to: Optional[Callable[[int, int], tuple[int, int]]] = None,
) -> Image.Image:
    """Decode untrusted bytes into an RGB image, or raise ImageRejected naming `name`.

    `draft_to(width, height)` gives the size the image will be resized to: a JPEG is then decoded
    at the smallest DCT scale (1/2, 1/4, 1/8) that still covers it (Pillow's draft), which skips
    most of the decoding work; other formats decode in full."""
    with _opened(data, name, limits) as img:
        if draft_to is not None and img.format == "JPEG":
            img.draft("RGB", draft_to(*img.size))
        img.load()
    return img if img.mode == "RGB" else img.convert("RGB")


def check_image(data: bytes, name: str = "image", limits: ImageLimits = ImageLimits()) -> tuple[int, int]:
    """Check untrusted bytes are a well-formed image within the limits, without decoding the
    pixels (Pillow's verify() walks the chunks and their checksums); returns (width, height)."""
    with _opened(data, name, limits) as img:
        size = img.size
        img.verify()
    return size


def fitted_size(width: int, height: int, image_processor) -> tuple[int, int]:
    """(width, height) the Qwen2-VL processor would resize a width x height image to (smart_resize)."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    size = image_processor.size  # transformers' SizeDict: pixel bounds in shortest/longest_edge
    factor = image_processor.patch_size * image_processor.merge_size
    h, w = smart_resize(height, width, factor, size.shortest_edge, size.longest_edge)
    return w, h


def set_pixel_budget(image_processor, max_pixels: Optional[int]) -> None:
    """Make the processor resize every screenshot to at most `max_pixels` (spec.serving.
    modelMaxPixels; None keeps the model's own setting). Training sets it before it encodes a row
    and saves it with the model, serving sets it from the same field: one budget for both."""
    if max_pixels:
        image_processor.size.longest_edge = max_pixels
        if hasattr(image_processor, "max_pixels"):
            image_processor.max_pixels = max_pixels


def fit_for(image: Image.Image, image_processor) -> Image.Image:
    """The screenshot resized to the size the Qwen2-VL processor would pick (smart_resize), with
    Pillow's reducing_gap: the same size, at half the processor's cost on a full-HD capture.
    Training and serving both call this, so both see the same pixels."""
    w, h = fitted_size(image.width, image.height, image_processor)
    if (w, h) == image.size:
        return image
    return image.resize((w, h), Image.BICUBIC, reducing_gap=2.0)


def encode_png(img: Image.Image) -> bytes:
    """PNG bytes (fast compression: screenshots are stored once and read many times)."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=3)
    return buf.getvalue()
