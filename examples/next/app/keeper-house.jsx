"use client";

// A client component: a gen: import and the manifest's default export.
import door from "gen:The blue door of a keeper's house, morning light?w=240&format=webp&alt=A blue door";
import gallery from "./site.prompts.yaml";

export default function KeeperHouse() {
  const keeper = gallery["keeper-house"];
  return (
    <>
      <img id="keeper-house" src={keeper.src} alt={keeper.alt} width={keeper.width} height={keeper.height} />
      <img id="door" src={door} alt="A blue door" width={240} height={240} />
    </>
  );
}
