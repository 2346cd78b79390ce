import type { Provider } from "@imagegen/core";

/** Counts every call to the provider, retries included: the API requests a run paid for. */
export function countRequests(provider: Provider, counter: { requests: number }): Provider {
  return {
    id: provider.id,
    ...(provider.persistent !== undefined && { persistent: provider.persistent }),
    ...(provider.origin !== undefined && { origin: provider.origin }),
    generate(request, context) {
      counter.requests++;
      return provider.generate(request, context);
    },
  };
}
