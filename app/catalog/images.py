"""Product images: untrusted uploads become clean, fixed-size WebP and JPEG renditions.

Every upload is decoded and re-encoded, never stored as sent: that drops all metadata (EXIF
with GPS positions, ICC profiles, comments) and anything appended to the file (polyglots).
Oversized files and decompression bombs are refused before any pixel is decoded.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import warnings
from dataclasses import dataclass, field
from functools import partial

import sqlalchemy as sa
from flask import current_app, has_app_context
from PIL import Image, ImageCms, ImageOps

from app.accounts.audit import audit
from app.catalog.cache import catalog_changed
from app.catalog.models import Product, ProductImage
from app.catalog.services import move_in_list
from app.db import after_commit, after_rollback
from app.extensions import db
from app.file_storage import Storage, get_storage

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
SIZES: dict[str, int] = {"thumb": 240, "medium": 640, "large": 1280}
FORMATS: dict[str, tuple[str, str]] = {  # extension -> (Pillow format, content type)
    "webp": ("WEBP", "image/webp"),
    "jpg": ("JPEG", "image/jpeg"),
}
QUALITY = 82
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
# Pillow reports multi-picture JPEGs (most phone cameras) as MPO; they are JPEG files.
_ACCEPTED_REPORTED = {*ACCEPTED_FORMATS, "MPO"}

NOT_AN_IMAGE = "That file is not an image we can read (JPEG, PNG, WebP or GIF)."
TOO_MANY_PIXELS = "That image is too large (at most 40 megapixels)."


class ImageRejected(ValueError):
    """The upload cannot be used; the message is a sentence to show to the user."""


@dataclass
class ProcessedImage:
    content_hash: str  # sha256 of the uploaded bytes
    width: int  # of the largest rendition
    height: int
    renditions: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (size, ext)


def max_image_bytes() -> int:
    if has_app_context():
        return int(current_app.config.get("MAX_IMAGE_BYTES", MAX_IMAGE_BYTES))
    return MAX_IMAGE_BYTES


def _too_big_message(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"Images must be {round(limit / (1024 * 1024), 1):g} MB or smaller."
    return f"Images must be {max(1, round(limit / 1024))} KB or smaller."


def process_image(
    data: bytes, *, max_bytes: int | None = None, square: bool = False
) -> ProcessedImage:
    """Validate and re-encode an upload into every size of :data:`SIZES`, as WebP and JPEG.
    ``square``: cropped to its centre square first (profile pictures).

    Raises :class:`ImageRejected` with a user-facing message for anything unusable.
    """
    limit = max_bytes if max_bytes is not None else max_image_bytes()
    if len(data) > limit:
        raise ImageRejected(_too_big_message(limit))
    if not data:
        raise ImageRejected(NOT_AN_IMAGE)

    with warnings.catch_warnings():
        # Pillow warns above its own (higher) pixel limit and raises above twice that; both
        # mean "too many pixels". The filter change ends with this block.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = _decode(data)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(TOO_MANY_PIXELS) from exc
        except Exception as exc:  # Pillow raises many types on malformed files
            raise ImageRejected(NOT_AN_IMAGE) from exc

    if square and image.width != image.height:
        side = min(image.width, image.height)
        left, top = (image.width - side) // 2, (image.height - side) // 2
        image = image.crop((left, top, left + side, top + side))
    renditions: dict[tuple[str, str], bytes] = {}
    source = image
    large = image
    # Largest first, each size resized from the previous one (fast, and never upscaled).
    for size, max_width in sorted(SIZES.items(), key=lambda item: -item[1]):
        resized = _fit_width(source, max_width)
        if max_width == max(SIZES.values()):
            large = resized
        for ext, (fmt, _content_type) in FORMATS.items():
            renditions[(size, ext)] = _encode(resized, fmt)
        source = resized
    return ProcessedImage(
        content_hash=hashlib.sha256(data).hexdigest(),
        width=large.width,
        height=large.height,
        renditions=renditions,
    )


def _decode(data: bytes) -> Image.Image:
    """Open (header only), check the declared size, then decode into a clean RGB image."""
    image: Image.Image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    if image.format not in _ACCEPTED_REPORTED:
        raise ImageRejected(NOT_AN_IMAGE)
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRejected(NOT_AN_IMAGE)
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageRejected(TOO_MANY_PIXELS)
    if image.format in {"JPEG", "MPO"}:
        # Let libjpeg decode at a reduced scale when the photo is far above our largest size.
        largest = max(SIZES.values())
        image.draft(None, (largest, largest))
    image.load()  # the first frame only, for animations
    image = ImageOps.exif_transpose(image) or image
    image = _to_srgb(image)
    return _flatten(image)


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert colours from an embedded ICC profile to sRGB before the profile is dropped."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in {"RGB", "RGBA", "CMYK"}:
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        srgb = ImageCms.createProfile("sRGB")
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        converted = ImageCms.profileToProfile(image, source, srgb, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image  # a broken profile: keep the pixels as they are
    return converted if converted is not None else image


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on a white background, as a fresh image carrying no metadata at all."""
    if image.mode in {"I", "F"} or image.mode.startswith("I;16"):
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "P" or image.mode == "PA":
        image = image.convert("RGBA")
    if image.mode in {"RGBA", "LA", "La", "RGBa"}:
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    rgb = image.convert("RGB")
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    return clean


def _fit_width(image: Image.Image, max_width: int) -> Image.Image:
    if image.width <= max_width:
        return image
    height = max(1, round(image.height * max_width / image.width))
    resized = image.resize((max_width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    resized.info = {}
    return resized


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=QUALITY, optimize=True, progressive=True)
    else:
        image.save(out, "WEBP", quality=QUALITY, method=4)
    return out.getvalue()


def new_storage_key(content_hash: str) -> str:
    """``products/<random>-<hash prefix>``: unguessable, unique per upload, cacheable."""
    token = secrets.token_urlsafe(9).replace("-", "_")
    return f"products/{token}-{content_hash[:12]}"


def rendition_key(storage_key: str, size: str, ext: str) -> str:
    return f"{storage_key}-{size}.{ext}"


def rendition_keys(storage_key: str) -> list[str]:
    return [rendition_key(storage_key, size, ext) for size in SIZES for ext in FORMATS]


def delete_renditions(storage: Storage, storage_key: str) -> None:
    """Every rendition of ``storage_key``, each on its own (those never written are no
    error; one that cannot be deleted is logged and the rest still go)."""
    for name in rendition_keys(storage_key):
        _delete_quietly(storage, name)


def save_undone_on_rollback(storage: Storage, key: str, body: bytes, content_type: str) -> None:
    """Store a file for a row the current unit of work is about to write: deleted again if
    that unit of work is rolled back instead (:func:`app.db.after_rollback`)."""
    storage.save(key, body, content_type)
    after_rollback(partial(_delete_quietly, storage, key))


def _delete_quietly(storage: Storage, key: str) -> None:
    try:
        storage.delete(key)
    except OSError:  # StorageError included: an orphan file at worst, the answer goes out
        log.warning("could not delete %s", key, exc_info=True)


def add_product_image(
    product: Product,
    data: bytes,
    alt_text: str,
    *,
    storage: Storage | None = None,
    actor_id: int | None = None,
) -> ProductImage:
    """Process an upload, store its renditions and add it after the product's other images.

    Files are written before the row, so a row never points at missing files; if the row
    never comes (the transaction rolls back, or a later file fails to store) the files
    written are deleted again (:func:`app.db.after_rollback`).
    """
    processed = process_image(data)
    storage = storage if storage is not None else get_storage()
    storage_key = new_storage_key(processed.content_hash)
    for (size, ext), body in processed.renditions.items():
        save_undone_on_rollback(
            storage, rendition_key(storage_key, size, ext), body, FORMATS[ext][1]
        )

    if product.id is None:
        db.session.flush()
    last = db.session.execute(
        sa.select(sa.func.max(ProductImage.position)).where(ProductImage.product_id == product.id)
    ).scalar()
    image = ProductImage(
        product=product,
        storage_key=storage_key,
        alt_text=alt_text.strip()[:250],
        position=0 if last is None else last + 1,
        width=processed.width,
        height=processed.height,
    )
    db.session.add(image)
    db.session.flush()
    catalog_changed()
    audit(
        "catalog.image_add",
        actor_id=actor_id,
        target=f"product:{product.id}",
        detail=f"image:{image.id} {image.width}x{image.height}",
    )
    return image


def delete_product_image(
    image: ProductImage, *, storage: Storage | None = None, actor_id: int | None = None
) -> None:
    """Delete the row now and its files once the deletion has committed.

    Deleting the files only after the commit means a rolled-back transaction never leaves
    a row whose pictures are gone.
    """
    storage = storage if storage is not None else get_storage()
    product = image.product
    db.session.delete(image)
    db.session.flush()
    db.session.expire(product, ["images"])  # so pages rendered next no longer list it
    # Demo data shares pictures between products: keep files another row still uses.
    still_used = db.session.execute(
        sa.select(sa.func.count())
        .select_from(ProductImage)
        .where(ProductImage.storage_key == image.storage_key)
    ).scalar_one()
    if not still_used:
        after_commit(partial(delete_renditions, storage, image.storage_key))
    catalog_changed()
    audit(
        "catalog.image_delete",
        actor_id=actor_id,
        target=f"product:{product.id}",
        detail=f"image:{image.id}",
    )


# --- Staff: order and describe a product's images ---------------------------------------


def move_product_image(image: ProductImage, offset: int, *, actor_id: int | None = None) -> bool:
    """Move an image up (-1) or down (+1) among its product's images; the first is the main
    picture on listings."""
    images = list(
        db.session.execute(
            sa.select(ProductImage)
            .where(ProductImage.product_id == image.product_id)
            .order_by(ProductImage.position, ProductImage.id)
        ).scalars()
    )
    moved = move_in_list(images, image, offset)
    if moved:
        db.session.expire(image.product, ["images"])
        direction = "up" if offset < 0 else "down"
        audit(
            "catalog.image_reorder",
            actor_id=actor_id,
            target=f"product:{image.product_id}",
            detail=f"image:{image.id} {direction}",
        )
    return moved


def set_image_alt_text(image: ProductImage, alt_text: str, *, actor_id: int | None = None) -> None:
    image.alt_text = alt_text.strip()[:250]
    db.session.flush()
    catalog_changed()
    audit(
        "catalog.image_alt",
        actor_id=actor_id,
        target=f"product:{image.product_id}",
        detail=f"image:{image.id}",
    )
