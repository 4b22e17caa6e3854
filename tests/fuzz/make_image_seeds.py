"""Writes the PNG and JPEG seed files of the fuzz suite (tests/fuzz.rs):
small digits in the colour types and encodings `kindling predict` reads.
Needs Pillow; run from the repository root: python3 tests/fuzz/make_image_seeds.py"""

from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).parent / "seeds"


def seven(size=(28, 28), ink=255, paper=0, mode="L"):
    img = Image.new(mode, size, paper)
    d = ImageDraw.Draw(img)
    w, h = size
    d.line([(w * 0.25, h * 0.2), (w * 0.75, h * 0.2), (w * 0.4, h * 0.85)], fill=ink, width=max(2, w // 9))
    return img


def main():
    png = OUT / "png_digit"
    jpg = OUT / "jpeg_digit"
    png.mkdir(parents=True, exist_ok=True)
    jpg.mkdir(parents=True, exist_ok=True)
    seven().save(png / "gray.png")
    seven((40, 30), ink=(20, 30, 200), paper=(250, 250, 240), mode="RGB").save(png / "rgb-light.png")
    rgba = seven((24, 24), ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="RGBA")
    rgba.save(png / "rgba-transparent.png")
    seven((28, 28), ink=(255, 255, 255), paper=(0, 0, 0), mode="RGB").quantize(4).save(png / "palette.png")
    seven(mode="L").convert("1").save(png / "one-bit.png")
    seven(mode="I;16", ink=65535).save(png / "gray16.png")
    seven((28, 28), ink=(200, 255), paper=(0, 255), mode="LA").save(png / "gray-alpha.png")
    seven().save(jpg / "gray.jpg", quality=50)
    seven((40, 32), ink=(250, 250, 250), paper=(10, 40, 10), mode="RGB").save(jpg / "rgb-420.jpg", quality=40, subsampling=2)
    seven((32, 32), ink=(0, 0, 0), paper=(255, 255, 255), mode="RGB").save(jpg / "progressive.jpg", quality=40, progressive=True)
    seven((16, 16), ink=(0, 0, 0, 255), paper=(0, 0, 0, 0), mode="CMYK").save(jpg / "cmyk.jpg", quality=40)


if __name__ == "__main__":
    main()
