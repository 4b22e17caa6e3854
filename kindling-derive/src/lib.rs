//! `#[derive(Module)]` for kindling. See `kindling::nn::Module` for what it
//! gives and `kindling::nn::Field` for how each field is registered.

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields, LitStr};

/// Makes a struct of modules, parameters and buffers a PyTorch-style module:
/// names for its fields, recursive parameters and buffers, `train()`/`eval()`,
/// state dicts with PyTorch's keys, and `Display` as PyTorch prints the class.
///
/// Every field takes part, in declaration order, through `kindling::nn::Field`:
/// a module (any type that implements `Module`, `Sequential`, `Vec<M>`,
/// `Box<dyn Module>`) is a child, a `Tensor` is a parameter, `Option<_>` counts
/// when it is `Some`, and numbers, booleans and strings are plain settings. A
/// field of any other type does not compile until it is marked:
///
/// - `#[buffer]` on a `Tensor` (or `Option<Tensor>`) field: state that is saved
///   and loaded with the weights but not trained (BatchNorm's running mean);
/// - `#[module(skip)]`: a field that is none of these (a setting, a cache).
///
/// On the struct, `#[module(name = "Net")]` sets the class name printed (the
/// struct's name by default).
///
/// `forward` is then written in `impl Module for Net`, or, with
/// `#[derive(Module, Forward)]`, in the struct's own `impl` (see `Forward`).
#[proc_macro_derive(Module, attributes(module, buffer))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `kindling::nn::Module` with the struct's own `forward` method,
/// so that a model is written as a PyTorch class is: `new` and `forward` in
/// one `impl` block (`#[derive(Module, Forward)]`).
///
/// The struct's `impl` must have `fn forward(&self, x: &Tensor) ->
/// Result<Tensor>`. Without it the derive does not compile (it never calls
/// itself): the error names `DeriveForwardNeedsFnForwardInTheStructsImpl`.
#[proc_macro_derive(Forward)]
pub fn derive_forward(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics ::kindling::nn::Module for #ident #ty_generics #where_clause {
            fn forward(&self, input: &::kindling::Tensor) -> ::kindling::Result<::kindling::Tensor> {
                // Inherent methods come first in `Self::forward`. Without one,
                // this trait's method and `Module`'s are both candidates (an
                // error), or this one alone (a type error), never a call to
                // the method being defined.
                #[allow(dead_code)]
                trait DeriveForwardNeedsFnForwardInTheStructsImpl {
                    fn forward(&self, _: &::kindling::Tensor) -> WriteFnForwardInTheStructsImpl;
                }
                struct WriteFnForwardInTheStructsImpl;
                impl #impl_generics DeriveForwardNeedsFnForwardInTheStructsImpl for #ident #ty_generics #where_clause {
                    fn forward(&self, _: &::kindling::Tensor) -> WriteFnForwardInTheStructsImpl {
                        WriteFnForwardInTheStructsImpl
                    }
                }
                #ident::forward(self, input)
            }
        }
    }
    .into()
}

fn expand(input: DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let ident = &input.ident;
    let mut type_name = ident.to_string();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                type_name = meta.value()?.parse::<LitStr>()?.value();
                Ok(())
            } else {
                Err(meta.error("expected `name = \"...\"`"))
            }
        })?;
    }
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        _ => {
            return Err(syn::Error::new_spanned(
                ident,
                "#[derive(Module)] works on structs",
            ))
        }
    };
    let mut registrations = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let mut skip = false;
        let mut buffer = false;
        for attr in &field.attrs {
            if attr.path().is_ident("buffer") {
                buffer = true;
            } else if attr.path().is_ident("module") {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("skip") {
                        skip = true;
                        Ok(())
                    } else {
                        Err(meta.error("expected `skip`"))
                    }
                })?;
            }
        }
        if skip {
            continue;
        }
        let (access, name) = match &field.ident {
            Some(id) => (quote!(#id), id.to_string()),
            None => {
                let index = syn::Index::from(i);
                (quote!(#index), i.to_string())
            }
        };
        let ty = &field.ty;
        registrations.push(if buffer {
            quote! { registry.buffers(|r| <#ty as ::kindling::nn::Field>::register(&self.#access, #name, r)); }
        } else {
            quote! { <#ty as ::kindling::nn::Field>::register(&self.#access, #name, registry); }
        });
    }
    if matches!(fields, Fields::Unit) {
        registrations.clear();
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::kindling::nn::ModuleInfo for #ident #ty_generics #where_clause {
            fn type_name(&self) -> &str {
                #type_name
            }
            fn register<'a>(&'a self, registry: &mut ::kindling::nn::Registry<'a>) {
                #(#registrations)*
            }
            fn children(&self) -> ::std::vec::Vec<(::std::string::String, &dyn ::kindling::nn::Module)> {
                ::kindling::nn::Registry::of(self).children
            }
            fn own_parameters(&self) -> ::std::vec::Vec<(::std::string::String, ::kindling::Tensor)> {
                ::kindling::nn::Registry::of(self).parameters
            }
            fn own_buffers(&self) -> ::std::vec::Vec<(::std::string::String, ::kindling::Tensor)> {
                ::kindling::nn::Registry::of(self).buffers
            }
        }
        impl #impl_generics ::std::fmt::Display for #ident #ty_generics #where_clause {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&::kindling::nn::format_module(self))
            }
        }
    })
}
