"use client";

import gallery from "./site.prompts.yaml";

export default function KeeperHouse() {
  const keeper = gallery["keeper-house"];
  return <img id="keeper-house" src={keeper.src} alt={keeper.alt} width={keeper.width} height={keeper.height} />;
}
