"""Product images: re-encoding untrusted uploads, storage backends and the media route."""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import pytest
from PIL import Image, ImageCms

import app.catalog.media  # noqa: F401  (registers the route before the app is built)
from app.catalog.images import (
    SIZES,
    ImageRejected,
    add_product_image,
    delete_product_image,
    process_image,
    rendition_key,
    rendition_keys,
)
from app.catalog.media import image_srcset, image_url
from app.catalog.services import VariantInput, create_product
from app.db import commit_unit_of_work
from app.file_storage import InvalidKey, LocalStorage, S3Storage, get_storage

SCRIPT = b"<script>alert(1)</script>"


# --- builders ---------------------------------------------------------------------------


def jpeg_bytes(size=(800, 600), color="red", **save_args) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG", **save_args)
    return out.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_with_gps_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = jpeg_bytes((800, 600), exif=exif, icc_profile=icc, comment=b"secret comment")
    source = Image.open(io.BytesIO(data))
    assert source.getexif().get_ifd(0x8825)  # the upload really carries a GPS position
    assert "icc_profile" in source.info and "comment" in source.info
    return data


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def make_product(name: str = "Photo Frame"):
    return create_product(
        name, [VariantInput(sku=f"IMG-{name[:8]}", price=1000, options={})], status="published"
    )


# --- processing -------------------------------------------------------------------------


def test_exif_gps_icc_and_comments_are_stripped_and_orientation_applied(db, tmp_path):
    storage = LocalStorage(tmp_path)
    product = make_product()
    image = add_product_image(product, jpeg_with_gps_exif(), "  A red square  ", storage=storage)

    # Orientation 6 turns the 800x600 sensor image into a 600x800 portrait.
    assert (image.width, image.height) == (600, 800)
    assert image.alt_text == "A red square"
    for key in rendition_keys(image.storage_key):
        data = storage.read(key)
        assert b"SpyCam" not in data and b"secret comment" not in data
        assert b"Exif" not in data
        stored = decode(data)
        assert not stored.getexif()
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(stored.info)
        assert stored.width <= 600 and stored.height > stored.width


def test_png_with_transparency_is_flattened_onto_white():
    rgba = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (100, 50, 200, 150))
    processed = process_image(png_bytes(rgba))

    large = decode(processed.renditions[("large", "jpg")])
    assert large.mode == "RGB" and large.size == (300, 200)
    assert all(c > 245 for c in large.getpixel((5, 5)))  # transparent -> white
    r, g, b = large.getpixel((150, 100))
    assert b > 200 and r < 60 and g < 60
    assert decode(processed.renditions[("thumb", "webp")]).format == "WEBP"


def test_palette_gif_and_webp_uploads_are_accepted():
    gif = Image.new("P", (50, 40))
    gif.info["transparency"] = 0
    out = io.BytesIO()
    gif.save(out, "GIF")
    assert process_image(out.getvalue()).width == 50

    out = io.BytesIO()
    Image.new("RGB", (70, 30), "green").save(out, "WEBP")
    assert process_image(out.getvalue()).width == 70


@pytest.mark.parametrize(
    "data",
    [
        b"Just some notes, saved as photo.jpg\n" * 20,
        b"",
        b"\xff\xd8\xff\xe0" + b"\x00" * 50,  # a JPEG header and nothing else
        b"BM" + b"\x00" * 100,
    ],
)
def test_files_that_are_not_images_are_rejected_with_a_clear_message(data):
    with pytest.raises(ImageRejected) as info:
        process_image(data)
    assert str(info.value) == "That file is not an image we can read (JPEG, PNG, WebP or GIF)."


def test_other_image_formats_are_rejected():
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "BMP")
    with pytest.raises(ImageRejected, match="JPEG, PNG, WebP or GIF"):
        process_image(out.getvalue())


def test_polyglot_payload_is_not_carried_into_renditions():
    polyglot = jpeg_bytes((300, 300)) + SCRIPT
    processed = process_image(polyglot)
    assert len(processed.renditions) == len(SIZES) * 2
    for data in processed.renditions.values():
        assert SCRIPT not in data and b"<script" not in data


def test_oversize_uploads_are_rejected(app, monkeypatch):
    with pytest.raises(ImageRejected) as info:
        process_image(b"\xff\xd8" + b"\x00" * (10 * 1024 * 1024))
    assert str(info.value) == "Images must be 10 MB or smaller."

    small = jpeg_bytes((400, 400))
    monkeypatch.setitem(app.config, "MAX_IMAGE_BYTES", 2 * 1024 * 1024)
    with app.app_context():
        process_image(small)  # within the configured limit
        with pytest.raises(ImageRejected, match="2 MB or smaller"):
            process_image(small + b"\x00" * (2 * 1024 * 1024))


@pytest.mark.parametrize("side", [7000, 20000])  # 49 MP (our cap); 400 MP (Pillow's too)
def test_decompression_bombs_are_rejected_before_decoding(side):
    bomb = png_bytes(Image.new("1", (side, side)))
    assert len(bomb) < 100_000
    filters_before = list(warnings.filters)
    with pytest.raises(ImageRejected) as info:
        process_image(bomb)
    assert str(info.value) == "That image is too large (at most 40 megapixels)."
    assert warnings.filters == filters_before  # the local filter did not leak


def test_renditions_have_fixed_widths_and_are_never_upscaled():
    wide = process_image(jpeg_bytes((2000, 1000)))
    assert (wide.width, wide.height) == (1280, 640)
    for (size, ext), data in wide.renditions.items():
        rendition = decode(data)
        assert rendition.format == {"jpg": "JPEG", "webp": "WEBP"}[ext]
        assert rendition.size == (SIZES[size], SIZES[size] // 2)

    small = process_image(jpeg_bytes((100, 60)))
    assert (small.width, small.height) == (100, 60)
    for data in small.renditions.values():
        assert decode(data).size == (100, 60)


def test_jpeg_renditions_are_progressive():
    processed = process_image(jpeg_bytes((700, 500)))
    assert decode(processed.renditions[("medium", "jpg")]).info.get("progressive")


def test_content_hash_is_of_the_upload():
    import hashlib

    data = jpeg_bytes((50, 50))
    assert process_image(data).content_hash == hashlib.sha256(data).hexdigest()


# --- service ----------------------------------------------------------------------------


def test_storage_keys_are_random_per_upload(db, tmp_path):
    storage = LocalStorage(tmp_path)
    product = make_product()
    data = jpeg_bytes((320, 200))
    first = add_product_image(product, data, "one", storage=storage)
    second = add_product_image(product, data, "two", storage=storage)

    assert first.storage_key != second.storage_key
    for image in (first, second):
        assert re.fullmatch(r"products/[A-Za-z0-9_]{12}-[0-9a-f]{12}", image.storage_key)
    assert first.storage_key[-12:] == second.storage_key[-12:]  # same content hash prefix
    assert [first.position, second.position] == [0, 1]
    assert product.images == [first, second]
    assert rendition_key(first.storage_key, "thumb", "webp") == f"{first.storage_key}-thumb.webp"
    for key in rendition_keys(first.storage_key) + rendition_keys(second.storage_key):
        assert storage.read(key)


def test_rejected_upload_adds_nothing(db, tmp_path):
    product = make_product()
    with pytest.raises(ImageRejected):
        add_product_image(product, b"not an image", "x", storage=LocalStorage(tmp_path))
    assert product.images == []
    assert not any(tmp_path.iterdir())


def test_deleting_an_image_removes_files_after_commit(db, tmp_path):
    storage = LocalStorage(tmp_path)
    product = make_product()
    image = add_product_image(product, jpeg_bytes((300, 300)), "x", storage=storage)
    keys = rendition_keys(image.storage_key)

    delete_product_image(image, storage=storage)
    assert product.images == []
    assert storage.read(keys[0])  # still there until the deletion is committed
    commit_unit_of_work()  # the db fixture's outer transaction still rolls everything back
    for key in keys:
        with pytest.raises(FileNotFoundError):
            storage.read(key)


def test_files_shared_by_another_image_are_kept(db, tmp_path):
    from app.catalog.models import ProductImage

    storage = LocalStorage(tmp_path)
    first = add_product_image(make_product("Frame A"), jpeg_bytes((300, 300)), "a", storage=storage)
    other = make_product("Frame B")
    shared = ProductImage(
        product=other,
        storage_key=first.storage_key,
        alt_text="b",
        width=first.width,
        height=first.height,
    )
    db.session.add(shared)
    db.session.flush()
    keys = rendition_keys(first.storage_key)

    delete_product_image(first, storage=storage)
    commit_unit_of_work()
    assert storage.read(keys[0])  # the other product still shows it
    delete_product_image(shared, storage=storage)
    commit_unit_of_work()
    with pytest.raises(FileNotFoundError):
        storage.read(keys[0])


# --- local storage ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "products/../../etc/passwd",
        "/etc/passwd",
        "..",
        "products\\..\\x.webp",
        "products//x.webp",
        "products/.tmp-abc",
        "products/x y.webp",
        "products/x%2e.webp",
        "products/é.webp",
        "",
        "a" * 600,
    ],
)
def test_local_storage_rejects_unsafe_keys(tmp_path, key):
    storage = LocalStorage(tmp_path / "media")
    for call in (
        lambda: storage.save(key, b"x", "image/webp"),
        lambda: storage.read(key),
        lambda: storage.delete(key),
    ):
        with pytest.raises(InvalidKey):
            call()
    assert not (tmp_path / "etc").exists()


def test_local_storage_round_trip(app, tmp_path):
    storage = LocalStorage(tmp_path)
    storage.save("products/a-thumb.webp", b"one", "image/webp")
    storage.save("products/a-thumb.webp", b"two", "image/webp")  # atomic replace
    assert storage.read("products/a-thumb.webp") == b"two"
    assert [p.name for p in (tmp_path / "products").iterdir()] == ["a-thumb.webp"]  # no temps
    storage.delete("products/a-thumb.webp")
    storage.delete("products/a-thumb.webp")  # idempotent
    with pytest.raises(FileNotFoundError):
        storage.read("products/a-thumb.webp")
    with pytest.raises(FileNotFoundError):
        storage.read("products")  # a directory is not a file
    with app.test_request_context():
        assert storage.url("products/a-thumb.webp") == "/media/products/a-thumb.webp"


# --- media route ------------------------------------------------------------------------


def test_media_route_serves_renditions_with_long_cache_headers(app, db, client):
    assert "catalog.media" in app.view_functions
    product = make_product()
    image = add_product_image(product, jpeg_bytes((900, 600)), "Red")
    with app.test_request_context():
        url = image_url(image)
        jpeg_url = image_url(image, "thumb", "jpg")
        srcset = image_srcset(image)
    assert url == f"/media/{image.storage_key}-medium.webp"
    assert srcset.count("w, ") == 2 and srcset.endswith("-large.webp 900w")

    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "image/webp"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert decode(response.data).size == (640, 427)
    etag = response.headers["ETag"]

    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304

    thumb = client.get(jpeg_url)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert decode(thumb.data).size == (240, 160)


@pytest.mark.parametrize(
    "path",
    [
        "/media/products/nope-medium.webp",
        "/media/../etc/passwd",
        "/media/..%2F..%2Fetc%2Fpasswd.jpg",
        "/media/products/..%2F..%2Fshop.db",
        "/media/products/%2e%2e/%2e%2e/x.webp",
        "/media/products/.tmp-abc.webp",
        "/media/products/x.svg",
        "/media/products/a%5C..%5Cb.webp",
    ],
)
def test_media_route_404s_for_unknown_or_malicious_keys(client, path):
    response = client.get(path)
    assert response.status_code == 404


def test_get_storage_is_cached_per_app(app):
    with app.app_context():
        storage = get_storage()
        assert isinstance(storage, LocalStorage)
        assert storage.root == Path(app.config["INSTANCE_DIR"]) / "media"
        assert get_storage() is storage


# --- S3 against a local S3-compatible server ----------------------------------------------


@pytest.fixture
def s3_server(monkeypatch):
    from moto.server import ThreadedMotoServer

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        if server._server is not None:
            server._server.server_close()


def test_s3_storage_round_trip(app, s3_server, make_app):
    import boto3

    admin = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    admin.create_bucket(Bucket="shop-media")
    storage = S3Storage(
        "shop-media",
        endpoint_url=s3_server,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )
    key = "products/abc-0123456789ab-thumb.webp"
    storage.save(key, b"RIFF-webp-bytes", "image/webp")
    assert storage.read(key) == b"RIFF-webp-bytes"
    head = admin.head_object(Bucket="shop-media", Key=key)
    assert head["ContentType"] == "image/webp"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"

    with app.test_request_context():
        assert storage.url(key) == f"/media/{key}"  # private bucket: the app proxies

    storage.delete(key)
    storage.delete(key)  # idempotent
    with pytest.raises(FileNotFoundError):
        storage.read(key)
    with pytest.raises(InvalidKey):
        storage.save("../escape", b"x", "image/webp")

    public = S3Storage("shop-media", endpoint_url=s3_server, public_url="https://cdn.example/")
    assert public.url(key) == f"https://cdn.example/{key}"

    # Configured through the app, and served through the media route without a public URL.
    s3_app = make_app(
        STORAGE_BACKEND="s3",
        S3_BUCKET="shop-media",
        S3_ENDPOINT_URL=s3_server,
        S3_REGION="us-east-1",
        S3_ACCESS_KEY_ID="testing",
        S3_SECRET_ACCESS_KEY="testing",
    )
    with s3_app.app_context():
        configured = get_storage()
        assert isinstance(configured, S3Storage) and configured.public_url is None
        configured.save(
            key, process_image(jpeg_bytes((300, 200))).renditions[("thumb", "webp")], "image/webp"
        )
    response = s3_app.test_client().get(f"/media/{key}")
    assert response.status_code == 200 and response.mimetype == "image/webp"
    assert s3_app.test_client().get("/media/products/missing-thumb.webp").status_code == 404

    cdn_app = make_app(
        STORAGE_BACKEND="s3", S3_BUCKET="shop-media", S3_PUBLIC_URL="https://cdn.example"
    )
    with cdn_app.app_context():
        assert get_storage().url(key) == f"https://cdn.example/{key}"
