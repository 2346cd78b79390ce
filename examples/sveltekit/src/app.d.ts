/// <reference types="unplugin-imagegen/client" />
export {};
