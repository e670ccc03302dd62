/** `.graphql` files are bundled as their text (esbuild's text loader). */
declare module "*.graphql" {
  const text: string;
  export default text;
}
