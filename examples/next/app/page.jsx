// A server component: a gen: import (non-ASCII text and an encoded question mark) and a manifest's
// named export; the client component below uses the manifest's default export.
import hero from "gen:灯台の夜明け, a lighthouse at dawn, what light%3F?w=480;960&format=webp&alt=A lighthouse at dawn";
import { harbour } from "./site.prompts.yaml";
import KeeperHouse from "./keeper-house";

export default function Page() {
  return (
    <main>
      <h1>Harbour Light</h1>
      <img id="hero" src={hero} alt="A lighthouse at dawn" width={960} height={960} />
      <picture id="harbour">
        <source type="image/avif" srcSet={harbour.sources.avif} sizes="480px" />
        <img src={harbour.src} srcSet={harbour.srcset} sizes="480px" width={harbour.width} height={harbour.height} alt={harbour.alt} />
      </picture>
      <KeeperHouse />
    </main>
  );
}
