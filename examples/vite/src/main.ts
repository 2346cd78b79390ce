import hero from "gen:A lighthouse at dawn on a rocky coast, golden light, long exposure sea?size=2K&w=640;1280&format=avif;webp&alt=A lighthouse at dawn";
import * as card from "gen:a red fox curled up in the snow?style=watercolor&aspect=4:3&w=480;960&format=avif;webp;jpeg&placeholder=blur";
import gallery from "./gallery.prompts.yaml";

function picture(image: ImagegenImage, sizes: string, className = ""): string {
  const sources = Object.entries(image.sources)
    .slice(0, -1)
    .map(([format, srcset]) => `<source type="image/${format}" srcset="${srcset}" sizes="${sizes}">`)
    .join("");
  const placeholder = image.placeholder ? ` style="background-image:url('${image.placeholder}')"` : "";
  return `<picture class="${className}">${sources}<img src="${image.src}" srcset="${image.srcset}" sizes="${sizes}" width="${image.width}" height="${image.height}" alt="${image.alt}" loading="lazy" decoding="async"${placeholder}></picture>`;
}

document.querySelector<HTMLElement>("#app")!.innerHTML = `
  <header class="hero">
    <img src="${hero}" alt="A lighthouse at dawn" fetchpriority="high">
    <h1>Harbour Light</h1>
  </header>
  <section class="card">
    ${picture(card as unknown as ImagegenImage, "(min-width: 600px) 480px, 100vw", "card-image")}
    <p>${card.alt}</p>
  </section>
  <section class="gallery">
    ${Object.entries(gallery)
      .map(([name, image]) => `<figure data-name="${name}">${picture(image, "320px")}<figcaption>${image.alt}</figcaption></figure>`)
      .join("")}
  </section>
`;
