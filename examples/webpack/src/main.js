import hero from "gen:A lighthouse at dawn on a rocky coast, golden light, long exposure sea?w=480;960&format=avif;webp&alt=A lighthouse at dawn";
import * as card from "gen:a red fox curled up in the snow?style=watercolor&aspect=4:3&w=480;960&format=avif;webp;jpeg&placeholder=blur";
import gallery from "./gallery.prompts.yaml";

/** A <picture> with one <source> per format but the last, which is the <img> fallback. */
function picture(image, sizes, id) {
  const sources = Object.entries(image.sources)
    .slice(0, -1)
    .map(([format, srcset]) => `<source type="image/${format}" srcset="${srcset}" sizes="${sizes}">`)
    .join("");
  const placeholder = image.placeholder ? ` style="background-image:url('${image.placeholder}')"` : "";
  return `<picture id="${id}">${sources}<img src="${image.src}" srcset="${image.srcset}" sizes="${sizes}" width="${image.width}" height="${image.height}" alt="${image.alt}" decoding="async"${placeholder}></picture>`;
}

document.querySelector("#app").innerHTML = `
  <header class="hero">
    <img id="hero" src="${hero}" alt="A lighthouse at dawn" fetchpriority="high">
    <h1>Harbour Light</h1>
  </header>
  <section class="card">
    ${picture(card, "(min-width: 600px) 480px, 100vw", "card")}
    <p>${card.alt}</p>
  </section>
  <section class="gallery">
    ${Object.entries(gallery)
      .map(([name, image]) => `<figure>${picture(image, "240px", name)}<figcaption>${image.alt}</figcaption></figure>`)
      .join("")}
  </section>
`;
