// Turbopack reads this file with a query (?gen=… or ?manifest=…); its code comes from imagegen's loader.
export {};
